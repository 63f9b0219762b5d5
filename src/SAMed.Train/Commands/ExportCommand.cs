using System.CommandLine;
using SAMed.Inference;
using SAMed.Train.Cli;

namespace SAMed.Train.Commands;

/// <summary>Writes a merged, self-contained SAMed checkpoint (official SAM key layout) and its configuration JSON.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var model = new ModelCommandOptions();
        var output = CommonOptions.Output("Checkpoint to write (NAME.pth; NAME.json goes beside it).", required: true);
        var classNames = CommonOptions.ClassNames("Names of classes 1..N (comma-separated or separate words), stored in the configuration.");
        var sliceAxis = new Option<int?>("--slice-axis") { Description = "Slice axis stored in the configuration for predict (default 2)." };
        var command = new Command("export", "Merge LoRA into SAM and write one checkpoint (full SAM state dict, official keys) plus its config JSON.")
        {
            output, classNames, sliceAxis,
        };
        model.AddTo(command);
        command.SetAction(result =>
        {
            model.ApplyThreads(result);
            var options = model.Options(result) with { MergeLora = true };
            using var loaded = SegmentationModel.Load(options);
            var config = loaded.Config;
            if (CommonOptions.ParseClassNames(result, classNames) is { } names)
                config = config with { ClassNames = names };
            if (result.GetValue(sliceAxis) is int axis)
                config = config with { SliceAxis = axis };
            config.Validate("export options");
            var export = SegmentationModel.FromModules(config, loaded.Sam); // shares loaded's SAM, disposed with it
            string checkpoint = result.GetValue(output)!;
            string configPath = ModelExport.Export(export, checkpoint);
            Console.WriteLine($"{loaded.Description}\nwrote {checkpoint} ({Checkpoints.ModuleStateDict.Ordered(loaded.Sam).Count()} tensors) and {configPath}");
            return 0;
        });
        return command;
    }
}
