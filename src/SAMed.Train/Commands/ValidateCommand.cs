using System.CommandLine;
using SAMed.Data;

namespace SAMed.Train.Commands;

/// <summary>Checks a Synapse-layout data set and prints every problem found.</summary>
public static class ValidateCommand
{
    public static Command Create()
    {
        var root = new Option<string>("--root")
        {
            Description = "Data root holding train_npz/ (and the train_npz_N/ of prepare --train-size N, each checked against train.txt) and test_vol_h5/.",
            Required = true,
        };
        var listDir = new Option<string?>("--list-dir")
        {
            Description = "Directory with train.txt and test_vol.txt (default: the data root).",
        };
        var numClasses = new Option<int>("--num-classes")
        {
            Description = "Number of foreground classes; labels must lie in 0..num-classes.",
            DefaultValueFactory = _ => 8,
        };
        var parts = new Option<ValidationParts>("--parts")
        {
            Description = "Which parts to check: Train, Test or All.",
            DefaultValueFactory = _ => ValidationParts.All,
        };
        var command = new Command("validate", "Check every listed training slice and test volume before training or testing.")
        {
            root, listDir, numClasses, parts,
        };
        command.SetAction(result =>
        {
            string dataRoot = result.GetValue(root)!;
            var layout = new SynapseLayout(dataRoot, result.GetValue(listDir) ?? dataRoot);
            var report = DatasetValidator.Validate(layout, result.GetValue(numClasses), result.GetValue(parts));
            foreach (var problem in report.Problems.Concat(report.Warnings))
                Console.Error.WriteLine(problem);
            Console.WriteLine(report.Summary);
            return report.IsValid ? 0 : 1;
        });
        return command;
    }
}
