using System.CommandLine;
using System.Globalization;
using SAMed.Lora;
using SAMed.Modeling;
using TorchSharp;

namespace SAMed.Train.Commands;

/// <summary>Prints a SAMed model's parameter counts and the size of its LoRA checkpoint.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "--vit-name") { Description = "SAM backbone: vit_b, vit_l or vit_h.", DefaultValueFactory = _ => "vit_b" };
        model.AcceptOnlyFromAmong([.. SamBuilder.ModelTypes]);
        var imageSize = new Option<int>("--img-size") { Description = "Input image size (a multiple of 16).", DefaultValueFactory = _ => 512 };
        var rank = new Option<int>("--rank") { Description = "LoRA rank.", DefaultValueFactory = _ => 4 };
        var numClasses = new Option<int>("--num-classes") { Description = "Number of foreground classes.", DefaultValueFactory = _ => 8 };

        var command = new Command("info", "Print total and trainable parameters and the LoRA checkpoint size of a SAMed model.")
        {
            model, imageSize, rank, numClasses,
        };
        command.SetAction(parse =>
        {
            var info = ModelInfo.Of(parse.GetValue(model)!, parse.GetValue(imageSize), parse.GetValue(rank), parse.GetValue(numClasses));
            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"model: {info.ModelType}, image size {info.ImageSize}, LoRA rank {info.Rank}, {info.NumClasses} classes (+ background)"));
            Console.WriteLine(string.Create(c, $"total parameters: {info.TotalParameters:N0}"));
            Console.WriteLine(string.Create(c, $"trainable parameters: {info.TrainableParameters:N0}"));
            Console.WriteLine(string.Create(c, $"LoRA checkpoint: {info.LoraCheckpointBytes / 1e6:F1} MB ({info.LoraCheckpointBytes / 1048576.0:F1} MiB, {info.LoraCheckpointTensors} tensors)"));
            return 0;
        });
        return command;
    }
}
