using System.CommandLine;
using SAMed.Train.Commands;

var root = new RootCommand("SAMed.NET: fine-tune Segment Anything with LoRA for medical image segmentation.");
foreach (var command in new[]
{
    VersionCommand.Create(),
    ValidateCommand.Create(),
    TrainCommand.Create(),
    PrepareCommand.Create(),
    SynthCommand.Create(),
    InfoCommand.Create(),
    ScoreCommand.Create(),
})
{
    root.Subcommands.Add(command);
}

return root.Parse(args).Invoke();
