using System.CommandLine;
using System.Globalization;
using SAMed.Adaptation;
using SAMed.Modeling;

namespace SAMed.Train.Commands;

/// <summary>Prints a model's parameter counts and the size of its strategy checkpoint, or what a checkpoint file holds.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string?>("checkpoint") { Description = "A checkpoint file (epoch_N.pth, SAMed's LoRA .pth, an export): say which model it belongs to.", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<string>("--model", "--vit-name") { Description = "SAM size: vit_b, vit_l, vit_h or tiny.", DefaultValueFactory = _ => "vit_b" };
        model.AcceptOnlyFromAmong([.. SamBuilder.ModelTypes]);
        var strategy = new Option<string>("--strategy") { Description = "Adaptation strategy: lora, adapter, decoder or full.", DefaultValueFactory = _ => Strategies.Lora };
        strategy.AcceptOnlyFromAmong([.. Strategies.Names]);
        var imageSize = new Option<int>("--img-size") { Description = "Input image size (a multiple of the patch size).", DefaultValueFactory = _ => 512 };
        var rank = new Option<int>("--rank") { Description = "LoRA rank.", DefaultValueFactory = _ => 4 };
        var numClasses = new Option<int>("--num-classes") { Description = "Number of foreground classes.", DefaultValueFactory = _ => 8 };

        var command = new Command("info", "Print total and trainable parameters and the checkpoint size of a model, or what a checkpoint file holds.")
        {
            file, model, strategy, imageSize, rank, numClasses,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(file) is string path)
                return DescribeFile(path);
            Print(ModelInfo.Of(new ModelSpec
            {
                Size = parse.GetValue(model)!,
                Strategy = parse.GetValue(strategy)!,
                ImgSize = parse.GetValue(imageSize),
                Rank = parse.GetValue(rank),
                NumClasses = parse.GetValue(numClasses),
            }));
            return 0;
        });
        return command;
    }

    private static void Print(ModelInfo info)
    {
        var c = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(c, $"model: {info.Spec} (+ background)"));
        Console.WriteLine(string.Create(c, $"total parameters: {info.TotalParameters:N0}"));
        Console.WriteLine(string.Create(c, $"trainable parameters: {info.TrainableParameters:N0}"));
        Console.WriteLine(string.Create(c, $"{info.Spec.Strategy} checkpoint: {info.CheckpointBytes / 1e6:F1} MB ({info.CheckpointBytes / 1048576.0:F1} MiB, {info.CheckpointTensors} tensors)"));
    }

    private static int DescribeFile(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"{path}: checkpoint file not found", path);
        var contents = CheckpointContents.Read(path);
        Console.WriteLine($"{path}: {contents}");
        if (ModelSpecFile.FindBeside(path) is ModelSpec spec)
        {
            Console.WriteLine($"described by {ModelSpecFile.PathBeside(path)}: {spec} (precision {spec.Precision}, seed {spec.Seed})");
            Print(ModelInfo.Of(spec));
        }
        else
        {
            Console.WriteLine("no model description beside it (SAMed's own checkpoints have none): test and predict read the strategy, rank and classes from the file, the size from its shapes where it has encoder tensors");
        }
        return 0;
    }
}
