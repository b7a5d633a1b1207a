using SemEdge.Synthesis.Defects;

namespace SemEdge.Synthesis;

/// <summary>
/// Renders one synthetic SEM review image. Four independent random streams come from the image seed:
/// furniture, scene, optics/detector and defect. The defect stream is the only one whose use depends on
/// the class, so rendering the same spec with the defect off gives the same image outside the defect box,
/// pixel for pixel.
/// </summary>
public static class SemImageGenerator
{
    private const ulong FurnitureStream = 1;
    private const ulong SceneStream = 2;
    private const ulong NuisanceStream = 3;
    private const ulong DefectStream = 4;
    private const ulong FigureStream = 5;

    /// <summary>The input size of the shipped models: defect visibility is judged at this resolution.</summary>
    public const int ModelInputSize = 128;

    /// <summary>The least a defect must change, in full-contrast pixels at <see cref="ModelInputSize"/>.</summary>
    public const double MinVisibleModelPixels = 24;

    /// <summary>
    /// The change of the noise-free signal (0..1 grey range, after the detector's gain) that makes one model pixel
    /// plainly visible: 0.12 is about 30 grey levels, a few times the shot noise of a 128x128 cell.
    /// </summary>
    public const double VisibleSignalChange = 0.12;

    /// <summary>
    /// The least a defect must change the rendered picture, in visible pixels at <see cref="ModelInputSize"/>
    /// (<see cref="MeasureVisibility"/>). With <see cref="MinPlainRenderedPixels"/> it refuses 2 to 7 % of the defects of
    /// the pretraining mix (bridges, opens and vias most), the ones nobody could point at on the contact sheet.
    /// </summary>
    public const double MinVisibleRenderedPixels = 32;

    /// <summary>
    /// Of those, how many must change by <see cref="VisibleSignalChange"/> or more: a long, faint streak over many
    /// cells adds up to enough pixels without any one of them standing out.
    /// </summary>
    public const double MinPlainRenderedPixels = 8;

    /// <summary>A change of the signal below this (about 8 grey levels) is lost in the noise and counts for nothing.</summary>
    public const double FaintSignalChange = 0.03;

    /// <summary>How many scenes <see cref="RenderSample"/> draws before it gives up on a defect.</summary>
    public const int MaxSceneAttempts = 16;

    /// <summary>
    /// Renders <paramref name="spec"/>; when its scene cannot carry the defect (a layout with no room for it),
    /// draws another scene from a seed derived from the last one, so the result stays a pure function of the
    /// spec. Returns the image and the seed that made it: <c>Render(spec with { Seed = seed })</c> repeats it.
    /// </summary>
    public static (RenderedImage Image, ulong Seed) RenderSample(SampleSpec spec)
    {
        var seed = spec.Seed;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (Render(spec with { Seed = seed }), seed);
            }
            catch (DefectNotPlacedException) when (attempt < MaxSceneAttempts)
            {
                seed = SynthRandom.Mix(seed + 0x5EED_5EEDUL);
            }
        }
    }

    /// <summary>Renders exactly <paramref name="spec"/>; throws <see cref="DefectNotPlacedException"/> when its scene cannot carry the defect.</summary>
    public static RenderedImage Render(SampleSpec spec, bool withDefect = true)
    {
        spec.Validate();
        var w = spec.Width;
        var h = spec.Height;
        var scale = Math.Min(w, h) / 512.0;
        var settings = spec.Settings;
        var figureRng = SynthRandom.ForStream(spec.Seed, FigureStream);
        var figure = figureRng.Chance(settings.FigureShare) ? new FigureCrop(figureRng, w, h) : null;
        var furniture = new Furniture(SynthRandom.ForStream(spec.Seed, FurnitureStream), w, h,
            figure is null ? Furniture.ReviewDataBarChance : FigureCrop.DataBarChance);
        var scene = SceneBuilder.Build(SynthRandom.ForStream(spec.Seed, SceneStream), spec.ClassName, w, h, furniture.LiveArea, settings);
        var nuisance = SynthRandom.ForStream(spec.Seed, NuisanceStream);
        var optics = BeamOptics.Draw(nuisance, scene.View, scale);
        var detector = new DetectorNoise(nuisance, scale, settings.Contrast);

        // The defect is painted (and its box found) even when it is switched off, so everything drawn after the
        // scene that refers to the defect (a figure's arrow) is the same either way: only the box can differ.
        DefectBox? box = null;
        // The scene's own signal before any defect: what a defect must visibly change.
        var signal = optics.Image(scene);
        if (spec.ClassName != SemClasses.Clean)
        {
            var topography = scene.Topography.Clone();
            var material = scene.Material.Clone();
            var defectRng = SynthRandom.ForStream(spec.Seed, DefectStream);
            var (size, gain) = Prominence.Draw(defectRng, settings.Prominence, scene.Magnification);
            DefectPainter.Paint(spec.ClassName, scene, defectRng, size);
            Prominence.Amplify(material, scene.Material, gain);
            box = ChangedBox(topography, material, scene, optics.InfluenceRadius);
            var defectSignal = optics.Image(scene);
            RequireVisible(signal, defectSignal, box.Value, detector.Gain);
            if (withDefect)
            {
                signal = defectSignal;
            }
            else
            {
                topography.Data.AsSpan().CopyTo(scene.Topography.Data);
                material.Data.AsSpan().CopyTo(scene.Material.Data);
            }
        }

        detector.Apply(signal);
        var pixels = DetectorNoise.Quantise(signal);
        furniture.Draw(pixels);
        if (figure is not null)
        {
            (pixels, box) = figure.Apply(pixels, box);
        }
        return new RenderedImage(pixels, w, h, withDefect ? box : null, scene.View, figure is not null)
        {
            Layout = scene.Layout,
            TransmissionContrast = scene.CrossSection?.TransmissionContrast ?? false,
            Arrow = figure?.DrawsArrow ?? false,
            Ellipse = figure?.DrawsEllipse ?? false,
        };
    }

    /// <summary>
    /// The box around every scene pixel the defect changed, grown by how far optics and detector spread
    /// a change, clipped to the live area (the data bar is drawn over everything below it).
    /// </summary>
    private static DefectBox ChangedBox(FloatImage topography, FloatImage material, Scene scene, int reach)
    {
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        var w = scene.Width;
        var liveChange = 0.0;
        for (var y = 0; y < scene.Height; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                var step = Math.Abs(topography.Data[i] - scene.Topography.Data[i]);
                var tone = Math.Abs(material.Data[i] - scene.Material.Data[i]);
                if (step != 0 || tone != 0)
                {
                    x0 = Math.Min(x0, x);
                    x1 = Math.Max(x1, x);
                    y0 = Math.Min(y0, y);
                    y1 = Math.Max(y1, y);
                    if (scene.LiveArea.Contains(x, y))
                    {
                        // A full height step or a quarter of the grey range reads as a full-contrast pixel.
                        liveChange += Math.Max(Math.Min(1.0, step), Math.Min(1.0, 4.0 * tone));
                    }
                }
            }
        }
        if (x1 < 0)
        {
            throw new DefectNotPlacedException("the defect painter changed nothing; the layout cannot carry this defect");
        }
        // The classifier sees the image at ModelInputSize px across: a defect must cover a few of those pixels.
        var modelPixel = Math.Pow(Math.Min(scene.Width, scene.Height) / (double)ModelInputSize, 2);
        if (liveChange / modelPixel < MinVisibleModelPixels)
        {
            throw new DefectNotPlacedException(
                $"the defect changes {liveChange / modelPixel:0.0} full-contrast pixels at {ModelInputSize}x{ModelInputSize}, below {MinVisibleModelPixels}");
        }
        var rect = new PixelRect(x0, y0, x1 + 1, y1 + 1).Inflate(reach).Intersect(scene.LiveArea);
        return new DefectBox(rect.X0, rect.Y0, rect.Width, rect.Height);
    }

    /// <summary>
    /// How visible the defect is in the rendered picture, not only in the scene: a step between a line and a space
    /// whose yields are nearly the same changes the scene a lot and the image hardly at all. The noise-free signals
    /// with and without the defect are area-averaged to <see cref="ModelInputSize"/> cells, as the model sees them,
    /// and each cell counts up to one visible pixel in proportion to its change (times the detector's gain) against
    /// <see cref="VisibleSignalChange"/>.
    /// </summary>
    public static DefectVisibility MeasureVisibility(FloatImage clean, FloatImage withDefect, DefectBox box, double gain)
    {
        var w = clean.Width;
        var h = clean.Height;
        var cellsX = Math.Min(ModelInputSize, w);
        var cellsY = Math.Min(ModelInputSize, h);
        // The cells the box touches, and every pixel of those cells (pixel x lies in cell x * cells / size).
        var cx0 = box.X * cellsX / w;
        var cy0 = box.Y * cellsY / h;
        var cx1 = ((box.X + box.Width - 1) * cellsX / w) + 1;
        var cy1 = ((box.Y + box.Height - 1) * cellsY / h) + 1;
        var sums = new double[(cx1 - cx0) * (cy1 - cy0)];
        var counts = new int[sums.Length];
        for (var y = FirstPixel(cy0, h, cellsY); y < FirstPixel(cy1, h, cellsY); y++)
        {
            var row = ((y * cellsY / h) - cy0) * (cx1 - cx0);
            for (var x = FirstPixel(cx0, w, cellsX); x < FirstPixel(cx1, w, cellsX); x++)
            {
                var i = (y * w) + x;
                sums[row + (x * cellsX / w) - cx0] += withDefect.Data[i] - clean.Data[i];
                counts[row + (x * cellsX / w) - cx0]++;
            }
        }
        var visible = 0.0;
        var plain = 0;
        for (var c = 0; c < sums.Length; c++)
        {
            if (counts[c] > 0)
            {
                var d = Math.Abs(sums[c] / counts[c]) * gain;
                visible += Math.Clamp((d - FaintSignalChange) / (VisibleSignalChange - FaintSignalChange), 0, 1);
                plain += d >= VisibleSignalChange ? 1 : 0;
            }
        }

        // An image smaller than the model's input is enlarged to it: each of its pixels covers several model pixels.
        var enlarged = (ModelInputSize / (double)cellsX) * (ModelInputSize / (double)cellsY);
        return new DefectVisibility(visible * enlarged, plain * enlarged);
    }

    /// <summary>The first pixel of a size-<paramref name="size"/> row that falls in cell <paramref name="cell"/> of <paramref name="cells"/>.</summary>
    private static int FirstPixel(int cell, int size, int cells) => Math.Min(size, ((cell * size) + cells - 1) / cells);

    private static void RequireVisible(FloatImage clean, FloatImage withDefect, DefectBox box, double gain)
    {
        var visible = MeasureVisibility(clean, withDefect, box, gain);
        if (visible.Pixels < MinVisibleRenderedPixels || visible.PlainPixels < MinPlainRenderedPixels)
        {
            throw new DefectNotPlacedException(
                $"the defect moves the picture by {visible.Pixels:0.0} visible pixels at {ModelInputSize}x{ModelInputSize} " +
                $"({visible.PlainPixels:0} of them plainly), below {MinVisibleRenderedPixels} ({MinPlainRenderedPixels})");
        }
    }
}

/// <summary>
/// How much a defect changes the rendered picture at the model's input: <see cref="Pixels"/> counts every 128x128 cell
/// in proportion to its change, <see cref="PlainPixels"/> only the cells that changed plainly.
/// </summary>
public readonly record struct DefectVisibility(double Pixels, double PlainPixels);

/// <summary>The scene drawn for a sample cannot carry its defect: the painter found no place for it.</summary>
public sealed class DefectNotPlacedException(string message) : Exception(message);
