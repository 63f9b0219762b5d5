using System.Text.RegularExpressions;
using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// Pairs a folder of 2D images with a folder of masks, as ISIC, Kvasir-SEG, BUSI and most camera data sets ship them:
/// the mask of IMAGE.ext is IMAGE.ext2 (any image extension) or IMAGE_mask, IMAGE_segmentation, IMAGE_seg,
/// IMAGE_label, IMAGE_gt (also with '-' or ' '). Each pair becomes a case named after the image, with every character
/// other than letters, digits, '.', '-' and '_' replaced by '_' (BUSI's "benign (1).png" is case benign__1_).
/// </summary>
public static partial class ImageCases
{
    private static readonly string[] MaskSuffixes = ["mask", "segmentation", "seg", "label", "gt"];

    /// <summary>True when the folder (or file) holds 2D images rather than NIfTI volumes.</summary>
    public static bool AreImages(string path) => File.Exists(path)
        ? ImageFile.IsImage(path)
        : Directory.Exists(path) && Files(path).Count > 0;

    /// <summary>Every image in <paramref name="imagesDir"/> (sorted by name) with its mask in <paramref name="masksDir"/>.</summary>
    public static IReadOnlyList<PrepareCase> FromFolders(string imagesDir, string masksDir)
    {
        if (!Directory.Exists(imagesDir))
            throw new DirectoryNotFoundException($"{imagesDir}: image folder not found");
        if (!Directory.Exists(masksDir))
            throw new DirectoryNotFoundException($"{masksDir}: mask folder not found");
        var images = Files(imagesDir);
        if (images.Count == 0)
            throw new InvalidDataException($"{imagesDir}: no images found ({string.Join(", ", ImageFile.Extensions)})");
        bool sameFolder = Path.GetFullPath(imagesDir) == Path.GetFullPath(masksDir);
        var masks = Files(masksDir).GroupBy(Stem, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.OrdinalIgnoreCase);
        if (sameFolder)
            images = images.Where(i => !IsMaskName(Stem(i))).ToList();

        var cases = new List<PrepareCase>();
        foreach (string image in images)
        {
            string stem = Stem(image);
            var candidates = MaskNames(stem).Where(masks.ContainsKey).SelectMany(name => masks[name]).Where(m => m != image).ToList();
            if (candidates.Count == 0)
                throw new InvalidDataException($"{image}: no mask in {masksDir} matches this image ({stem}.png, {stem}_mask.png, ...)");
            if (candidates.Count > 1)
                throw new InvalidDataException($"{image}: several masks match this image ({string.Join(", ", candidates.Select(Path.GetFileName))})");
            cases.Add(new PrepareCase(CaseName(stem), image, candidates[0]));
        }
        var duplicate = cases.GroupBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new InvalidDataException($"images {string.Join(", ", duplicate.Select(c => c.ImagePath))} all become case '{duplicate.Key}'; rename one");
        var reused = cases.GroupBy(c => c.LabelPath).FirstOrDefault(g => g.Count() > 1);
        if (reused is not null)
            throw new InvalidDataException($"{reused.Key}: mask matches several images ({string.Join(", ", reused.Select(c => Path.GetFileName(c.ImagePath)))})");
        return cases;
    }

    /// <summary>One image and its mask.</summary>
    public static IReadOnlyList<PrepareCase> FromFiles(string imagePath, string maskPath) =>
        [new PrepareCase(CaseName(Stem(imagePath)), Path.GetFullPath(imagePath), Path.GetFullPath(maskPath))];

    /// <summary>The case name of an image file name without extension.</summary>
    public static string CaseName(string stem) => UnsafeCharacters().Replace(stem, "_");

    private static IEnumerable<string> MaskNames(string stem)
    {
        yield return stem;
        foreach (string suffix in MaskSuffixes)
            foreach (char separator in "_- ")
                yield return stem + separator + suffix;
    }

    private static bool IsMaskName(string stem) =>
        MaskSuffixes.Any(s => "_- ".Any(sep => stem.EndsWith(sep + s, StringComparison.OrdinalIgnoreCase)));

    private static List<string> Files(string dir) => Directory.EnumerateFiles(dir)
        .Where(ImageFile.IsImage)
        .Order(StringComparer.Ordinal)
        .ToList();

    private static string Stem(string path) => Path.GetFileNameWithoutExtension(path);

    [GeneratedRegex(@"[^A-Za-z0-9._-]")]
    private static partial Regex UnsafeCharacters();
}
