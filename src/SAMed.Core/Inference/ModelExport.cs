namespace SAMed.Inference;

/// <summary>
/// Writes a merged, self-contained SAMed model: the full SAM state dict in the official checkpoint's key layout
/// (.pth, readable by torch.load and by SAM's own builders when the sizes match) and its <see cref="InferenceConfig"/>
/// as JSON beside it (model.pth -&gt; model.json), which <c>test</c> and <c>predict</c> read with --checkpoint alone.
/// </summary>
public static class ModelExport
{
    /// <summary>Writes the tensors in PyTorch's state-dict order and returns the configuration path. The model must have no live LoRA adapters (load it with MergeLora).</summary>
    public static string Export(SegmentationModel model, string checkpointPath)
    {
        if (model.HasLiveLora)
            throw new InvalidOperationException("export needs the LoRA updates merged into the qkv weights (load the model with MergeLora)");
        if (!checkpointPath.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) && !checkpointPath.EndsWith(".pt", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"{checkpointPath}: the checkpoint name must end in .pth (its configuration goes beside it as .json)");
        string configPath = InferenceConfigFile.PathBeside(checkpointPath);
        Checkpoints.PthStateDict.Write(checkpointPath, Checkpoints.ModuleStateDict.Ordered(model.Sam));
        // A merged LoRA, a tuned decoder or a fully tuned model is a plain SAM now; adapters stay modules of their own.
        string strategy = model.Config.Strategy == Adaptation.Strategies.Adapter ? Adaptation.Strategies.Adapter : Adaptation.Strategies.Full;
        InferenceConfigFile.Save(model.Config with { LoraRank = 0, Strategy = strategy }, configPath);
        return configPath;
    }
}
