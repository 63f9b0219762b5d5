using SAMed.IO;

namespace SAMed.Data;

/// <summary>
/// One generated case: name (case0001, ...), whether it belongs to the training split, its volume as SAMed's
/// preprocessing leaves it (image in [0, 1], float32 label), and the raw CT intensities it was made from (integer
/// Hounsfield units as float32 [D, H, W], before windowing).
/// </summary>
public sealed record SyntheticCase(string Name, bool IsTraining, VolumeArrays Volume, NpyArray Hounsfield);

/// <summary>
/// Small CT-like volumes with an organ-like structure for every class 1..NumClasses: ellipsoids, lobed blobs and tubes
/// inside a body outline with fat rim, spine and unlabeled distractor blobs. Each class has its own mean intensity
/// (in Hounsfield-like units) and texture; sizes, positions and slice counts vary by case; intensities overlap through
/// noise, texture and partial-volume blur, so classes are learnable but not separable by a threshold. Images are
/// windowed to [-125, 275] and scaled to [0, 1] like SAMed's preprocessing; labels are float32 class ids. Fully
/// determined by the options (including the seed); each case depends only on the seed and its index.
/// </summary>
public static class SyntheticVolumes
{
    // SAMed's preprocessing window, applied in float32 like preprocess_data.py (and Prepare) do.
    private const float WindowLow = HuWindow.DefaultMin, WindowHigh = HuWindow.DefaultMax;
    private const double LowestHu = -1024, HighestHu = 3071;
    private const double AirHu = -1000, FatHu = -100, SoftTissueHu = 0, BoneHu = 550;
    private const double LowestOrganHu = 40, HighestOrganHu = 240;
    private const double NoiseHu = 14;

    /// <summary>Every case, generated one at a time as the sequence is enumerated; bad options throw at once.</summary>
    public static IEnumerable<SyntheticCase> GenerateAll(SyntheticOptions options)
    {
        options.ThrowIfInvalid();
        return Enumerable.Range(0, options.TotalCases).Select(i => GenerateCase(options, i));
    }

    /// <summary>Case <paramref name="caseIndex"/> (0-based; the first TrainCases are training cases).</summary>
    public static SyntheticCase GenerateCase(SyntheticOptions options, int caseIndex)
    {
        options.ThrowIfInvalid();
        if (caseIndex < 0 || caseIndex >= options.TotalCases)
            throw new ArgumentOutOfRangeException(nameof(caseIndex), caseIndex, $"there are {options.TotalCases} cases");
        var random = SyntheticRandom.For(options.Seed, caseIndex);
        int depth = random.Between(options.MinSlices, options.MaxSlices);
        var grid = new Grid(depth, options.Height, options.Width);
        var hu = new double[grid.Count];
        var label = new float[grid.Count];

        var body = Body.Random(grid, random);
        body.Paint(grid, hu, random);
        var structures = new List<Blob> { Blob.Spine(grid, body, random) };
        for (int i = 0; i < 2; i++)
            structures.Add(Blob.Random(grid, body, random, 0, random.Uniform(LowestOrganHu, HighestOrganHu), random.Uniform(0, 2 * Math.PI), baseScale: 0.6));
        var organs = Enumerable.Range(1, options.NumClasses)
            .Select(k => Blob.Random(grid, body, random, k, ClassMeanHu(k, options.NumClasses) + random.Uniform(-10, 10),
                ClassAngle(k, options.NumClasses) + random.Uniform(-0.35, 0.35) * 2 * Math.PI / options.NumClasses, baseScale: 1))
            .OrderByDescending(organ => organ.Volume)
            .ToList();
        foreach (var blob in structures.Concat(organs))
            blob.Paint(grid, hu, label);
        RepaintMissing(grid, organs, hu, label);

        Blur(grid, hu);
        var noise = SyntheticRandom.For(options.Seed, caseIndex, purpose: 1);
        var hounsfield = new float[grid.Count];
        var image = new float[grid.Count];
        for (int i = 0; i < image.Length; i++)
        {
            // CT scanners store whole Hounsfield units.
            hounsfield[i] = (float)Math.Clamp(Math.Round(hu[i] + NoiseHu * noise.NextGaussian()), LowestHu, HighestHu);
            image[i] = Window(hounsfield[i]);
        }
        var volume = new VolumeArrays(
            NpyArray.FromFloat32(image, depth, options.Height, options.Width),
            NpyArray.FromFloat32(label, depth, options.Height, options.Width));
        return new SyntheticCase(options.CaseName(caseIndex), caseIndex < options.TrainCases, volume,
            NpyArray.FromFloat32(hounsfield, depth, options.Height, options.Width));
    }

    /// <summary>SAMed's preprocessing of one CT value: clip to [-125, 275], then (x + 125) / 400, in float32.</summary>
    public static float Window(float hounsfield) => HuWindow.Apply(hounsfield, WindowLow, WindowHigh);

    /// <summary>Class k's mean intensity: spread evenly over the organ range, the same in every case.</summary>
    public static double ClassMeanHu(int classId, int numClasses) => numClasses == 1
        ? (LowestOrganHu + HighestOrganHu) / 2
        : LowestOrganHu + (HighestOrganHu - LowestOrganHu) * (classId - 1) / (numClasses - 1);

    /// <summary>Class k's usual direction from the body centre, so each organ has a typical place like real anatomy.</summary>
    private static double ClassAngle(int classId, int numClasses) => 2 * Math.PI * (classId - 0.5) / numClasses;

    /// <summary>A smaller organ painted later can hide an earlier one entirely; paint the hidden ones again on top.</summary>
    private static void RepaintMissing(Grid grid, List<Blob> organs, double[] hu, float[] label)
    {
        for (int round = 0; round <= organs.Count; round++)
        {
            var present = new HashSet<float>(label);
            var missing = organs.Where(organ => !present.Contains(organ.Label)).ToList();
            if (missing.Count == 0)
                return;
            foreach (var organ in missing)
                organ.Paint(grid, hu, label);
        }
        throw new InvalidOperationException("synthetic organs keep hiding each other; use a larger in-plane size or fewer classes");
    }

    /// <summary>Partial-volume blur: binomial [1 2 1] along x and y, [1 4 1] across slices.</summary>
    private static void Blur(Grid grid, double[] hu)
    {
        var buffer = new double[hu.Length];
        BlurAxis(hu, buffer, grid.Width, stride: 1, side: 0.25);
        BlurAxis(buffer, hu, grid.Height, stride: grid.Width, side: 0.25);
        BlurAxis(hu, buffer, grid.Depth, stride: grid.Height * grid.Width, side: 1.0 / 6);
        Array.Copy(buffer, hu, hu.Length);
    }

    // Blurs with [side, 1 - 2 side, side] along an axis of length n whose neighbours are `stride` apart; clamps at the edges.
    private static void BlurAxis(double[] source, double[] target, int n, int stride, double side)
    {
        double center = 1 - 2 * side;
        int block = n * stride;
        for (int start = 0; start < source.Length; start += block)
        {
            for (int i = 0; i < n; i++)
            {
                int previous = start + Math.Max(i - 1, 0) * stride, next = start + Math.Min(i + 1, n - 1) * stride;
                int at = start + i * stride;
                for (int j = 0; j < stride; j++)
                    target[at + j] = center * source[at + j] + side * (source[previous + j] + source[next + j]);
            }
        }
    }

    internal readonly record struct Grid(int Depth, int Height, int Width)
    {
        public int Count => Depth * Height * Width;
        public int Index(int z, int y, int x) => (z * Height + y) * Width + x;
    }

    /// <summary>An elliptic body cross-section with a fat rim, soft tissue inside and air outside.</summary>
    private sealed record Body(double Cy, double Cx, double Ry, double Rx)
    {
        public static Body Random(Grid grid, SyntheticRandom random) => new(
            grid.Height / 2.0 + random.Uniform(-0.04, 0.04) * grid.Height,
            grid.Width / 2.0 + random.Uniform(-0.04, 0.04) * grid.Width,
            grid.Height * random.Uniform(0.36, 0.43),
            grid.Width * random.Uniform(0.40, 0.46));

        public void Paint(Grid grid, double[] hu, SyntheticRandom random)
        {
            double fy = random.Uniform(0.2, 0.5), fx = random.Uniform(0.2, 0.5), phase = random.Uniform(0, 2 * Math.PI);
            for (int z = 0; z < grid.Depth; z++)
            {
                double t = grid.Depth == 1 ? 0 : (z - (grid.Depth - 1) / 2.0) / grid.Depth;
                double scale = 1 - 0.2 * t * t;
                for (int y = 0; y < grid.Height; y++)
                {
                    for (int x = 0; x < grid.Width; x++)
                    {
                        double u = (y + 0.5 - Cy) / (Ry * scale), v = (x + 0.5 - Cx) / (Rx * scale);
                        double rho = Math.Sqrt(u * u + v * v);
                        hu[grid.Index(z, y, x)] = rho > 1 ? AirHu
                            : rho > 0.88 ? FatHu
                            : SoftTissueHu + 12 * Math.Sin(fy * y + fx * x + phase);
                    }
                }
            }
        }
    }

    /// <summary>An ellipsoid, a lobed blob or a tube along the slices, with its own textured intensity.</summary>
    private sealed record Blob(
        int Label, double Cz, double Cy, double Cx, double Rz, double Ry, double Rx, double Angle, double DriftY, double DriftX,
        bool Tube, double Lobe2, double Phase2, double Lobe3, double Phase3, double MeanHu, double TextureHu, double Fz, double Fy, double Fx,
        double TexturePhase)
    {
        public double Volume => Rz * Ry * Rx;

        public static Blob Random(Grid grid, Body body, SyntheticRandom random, int label, double meanHu, double angle, double baseScale)
        {
            int kind = random.Between(0, 2);
            double distance = random.Uniform(0.2, 0.6);
            double radius = Math.Min(body.Ry, body.Rx) * random.Uniform(0.16, 0.3) * baseScale;
            double aspect = random.Uniform(0.7, 1.4);
            bool tube = kind == 2;
            if (tube)
                radius *= 0.5;
            radius = Math.Max(radius, 1.5);
            double depth = grid.Depth;
            double rz = Math.Max(1, depth * (tube ? random.Uniform(0.6, 1.0) : random.Uniform(0.2, 0.45)));
            bool lobed = kind == 1;
            return new Blob(
                label,
                Cz: (depth - 1) * random.Uniform(0.3, 0.7),
                Cy: body.Cy + distance * body.Ry * Math.Sin(angle),
                Cx: body.Cx + distance * body.Rx * Math.Cos(angle),
                Rz: rz,
                Ry: Math.Max(radius * aspect, 1.5),
                Rx: Math.Max(radius / aspect, 1.5),
                Angle: random.Uniform(0, Math.PI),
                DriftY: random.Uniform(-0.3, 0.3),
                DriftX: random.Uniform(-0.3, 0.3),
                Tube: tube,
                Lobe2: lobed ? random.Uniform(0.05, 0.15) : 0,
                Phase2: random.Uniform(0, 2 * Math.PI),
                Lobe3: lobed ? random.Uniform(0.05, 0.15) : 0,
                Phase3: random.Uniform(0, 2 * Math.PI),
                MeanHu: meanHu,
                TextureHu: random.Uniform(5, 12),
                Fz: random.Uniform(0.2, 0.6),
                Fy: random.Uniform(0.3, 0.9),
                Fx: random.Uniform(0.3, 0.9),
                TexturePhase: random.Uniform(0, 2 * Math.PI));
        }

        /// <summary>The spine: a bright unlabeled tube behind the organs, through every slice.</summary>
        public static Blob Spine(Grid grid, Body body, SyntheticRandom random)
        {
            double radius = Math.Max(1.5, Math.Min(body.Ry, body.Rx) * random.Uniform(0.14, 0.18));
            return new Blob(
                Label: 0,
                Cz: (grid.Depth - 1) / 2.0,
                Cy: body.Cy + 0.7 * body.Ry,
                Cx: body.Cx + random.Uniform(-1, 1),
                Rz: grid.Depth * 2.0,
                Ry: radius,
                Rx: radius * 1.1,
                Angle: 0,
                DriftY: random.Uniform(-0.1, 0.1),
                DriftX: random.Uniform(-0.1, 0.1),
                Tube: true,
                Lobe2: 0,
                Phase2: 0,
                Lobe3: 0,
                Phase3: 0,
                MeanHu: BoneHu,
                TextureHu: 60,
                Fz: 0.5,
                Fy: 0.8,
                Fx: 0.8,
                TexturePhase: random.Uniform(0, 2 * Math.PI));
        }

        // How far the cross-section at slice z extends, relative to the in-plane radii (0 when the blob misses the slice).
        private double Scale(int z)
        {
            double t = (z - Cz) / Rz;
            if (Math.Abs(t) >= 1)
                return 0;
            return Tube ? Math.Sqrt(1 - t * t * t * t) : Math.Sqrt(1 - t * t);
        }

        public void Paint(Grid grid, double[] hu, float[] labels)
        {
            double cos = Math.Cos(Angle), sin = Math.Sin(Angle), lobeMax = 1 + Lobe2 + Lobe3;
            for (int z = 0; z < grid.Depth; z++)
            {
                double scale = Scale(z);
                if (scale <= 0)
                    continue;
                double cy = Cy + DriftY * (z - Cz), cx = Cx + DriftX * (z - Cz);
                double reach = scale * lobeMax * Math.Max(Ry, Rx) + 1;
                int y0 = Math.Max(0, (int)Math.Floor(cy - reach)), y1 = Math.Min(grid.Height - 1, (int)Math.Ceiling(cy + reach));
                int x0 = Math.Max(0, (int)Math.Floor(cx - reach)), x1 = Math.Min(grid.Width - 1, (int)Math.Ceiling(cx + reach));
                for (int y = y0; y <= y1; y++)
                {
                    for (int x = x0; x <= x1; x++)
                    {
                        double dy = y + 0.5 - cy, dx = x + 0.5 - cx;
                        double u = (dy * cos + dx * sin) / Ry, v = (-dy * sin + dx * cos) / Rx;
                        double r2 = u * u + v * v;
                        double limit = scale * lobeMax;
                        if (r2 > limit * limit)
                            continue;
                        if (Lobe2 + Lobe3 > 0)
                        {
                            double theta = Math.Atan2(v, u);
                            limit = scale * (1 + Lobe2 * Math.Cos(2 * theta + Phase2) + Lobe3 * Math.Cos(3 * theta + Phase3));
                        }
                        else
                        {
                            limit = scale;
                        }
                        if (r2 > limit * limit)
                            continue;
                        int at = grid.Index(z, y, x);
                        hu[at] = MeanHu + TextureHu * Math.Sin(Fz * z + Fy * y + Fx * x + TexturePhase);
                        labels[at] = Label;
                    }
                }
            }
        }
    }
}
