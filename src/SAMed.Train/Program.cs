using System.CommandLine;
using SAMed.Train.Commands;

var root = new RootCommand("SAMed.NET: fine-tune Segment Anything with LoRA for medical image segmentation.");
foreach (var command in new[]
{
    TrainCommand.Create(),
    TestCommand.Create(),
    PredictCommand.Create(),
    ScoreCommand.Create(),
    PrepareCommand.Create(),
    SynthCommand.Create(),
    ValidateCommand.Create(),
    ExportCommand.Create(),
    InfoCommand.Create(),
    BenchCommand.Create(),
    VersionCommand.Create(),
})
{
    root.Subcommands.Add(command);
}

return root.Parse(args).Invoke();
