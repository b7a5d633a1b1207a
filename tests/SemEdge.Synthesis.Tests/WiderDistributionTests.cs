using SemEdge.Cli;
using SemEdge.Synthesis;

namespace SemEdge.Tests.Synthesis;

/// <summary>The pretraining mix: magnification, prominence, new scenes and figure crops, each still exact and class-neutral.</summary>
// Renders hundreds of images per case: slow, so scripts/test --fast leaves it out.
[Trait("Category", "Slow")]
public class WiderDistributionTests
{
    private static readonly SynthesisSettings Figures = SynthesisSettings.Pretraining with { Style = FrameStyle.Figure };
    private static readonly SynthesisSettings LargeDefects = SynthesisSettings.Pretraining with { Prominence = DefectProminence.Large, Magnification = (2, 3.5) };

    private static SampleSpec Spec(int run, string className, int index, int size, SynthesisSettings settings) =>
        new(ImageSeeds.Derive(run, DatasetSplit.Train, SemClasses.IndexOf(className), index), className, size, size) { Settings = settings };

    /// <summary>The first <paramref name="count"/> images of a class whose rendering matches <paramref name="want"/>, with the seed a dataset run would use.</summary>
    private static List<SampleSpec> Find(int run, string className, SynthesisSettings settings, Func<RenderedImage, bool> want, int count, int size = 192, int tries = 300)
    {
        var found = new List<SampleSpec>();
        for (var i = 0; i < tries && found.Count < count; i++)
        {
            var spec = Spec(run, className, i, size, settings);
            var (image, seed) = SemImageGenerator.RenderSample(spec);
            if (want(image))
            {
                found.Add(spec with { Seed = seed });
            }
        }
        Assert.True(found.Count == count, $"only {found.Count} matching {className} images among {tries} seeds");
        return found;
    }

    [Theory]
    [MemberData(nameof(SemImageGeneratorTests.DefectClasses), MemberType = typeof(SemImageGeneratorTests))]
    public void Figure_crops_keep_each_defect_inside_its_box(string className)
    {
        // Tilt, zoom, margins, blur, annotations and JPEG all move or spread the defect; the box must follow.
        var specs = Find(51, className, Figures, _ => true, 3);
        foreach (var spec in specs)
        {
            SemImageGeneratorTests.AssertDefectConfinedToBox(spec, $"{className} figure crop {spec.Seed}");
        }
    }

    [Theory]
    [MemberData(nameof(SemImageGeneratorTests.DefectClasses), MemberType = typeof(SemImageGeneratorTests))]
    public void Large_defects_at_high_magnification_stay_inside_their_box(string className)
    {
        foreach (var spec in Find(52, className, LargeDefects with { Style = FrameStyle.Review }, _ => true, 3))
        {
            SemImageGeneratorTests.AssertDefectConfinedToBox(spec, $"{className} large {spec.Seed}");
        }
    }

    [Theory]
    [InlineData(SemClasses.Crack)]
    [InlineData(SemClasses.Particle)]
    [InlineData(SemClasses.Scratch)]
    [InlineData(SemClasses.Other)]
    public void Defects_on_bare_films_stay_inside_their_box(string className)
    {
        foreach (var spec in Find(53, className, SynthesisSettings.Pretraining, i => i.Layout == SceneLayout.Film, 3))
        {
            SemImageGeneratorTests.AssertDefectConfinedToBox(spec, $"{className} film {spec.Seed}");
        }
    }

    [Theory]
    [InlineData(SemClasses.Vias)]
    [InlineData(SemClasses.Crack)]
    [InlineData(SemClasses.Other)]
    public void Defects_in_tem_like_cross_sections_stay_inside_their_box(string className)
    {
        foreach (var spec in Find(54, className, SynthesisSettings.Pretraining, i => i.TransmissionContrast, 2, tries: 400))
        {
            SemImageGeneratorTests.AssertDefectConfinedToBox(spec, $"{className} TEM {spec.Seed}");
        }
    }

    [Theory]
    [InlineData(SemClasses.Vias, SceneLayout.Tsv)]
    [InlineData(SemClasses.Crack, SceneLayout.Bumps)]
    [InlineData(SemClasses.Crack, SceneLayout.Tsv)]
    public void Large_defects_in_tsv_and_bump_sections_stay_inside_their_box(string className, SceneLayout layout)
    {
        foreach (var spec in Find(55, className, LargeDefects, i => i.Layout == layout, 2, tries: 400))
        {
            SemImageGeneratorTests.AssertDefectConfinedToBox(spec, $"{className} {layout} {spec.Seed}");
        }
    }

    [Fact]
    public void A_defect_image_with_an_arrow_points_it_at_the_defect_and_the_clean_render_draws_the_same_arrow()
    {
        // The arrow depends on the defect box, which the clean render of the same spec also knows: only the box differs.
        var spec = Find(56, SemClasses.Particle, Figures, i => i.Arrow, 1)[0];
        SemImageGeneratorTests.AssertDefectConfinedToBox(spec, "particle with arrow");
    }

    [Fact]
    public void Figure_crops_with_jpeg_render_byte_identically_from_the_same_seed()
    {
        for (var i = 0; i < 6; i++)
        {
            var spec = Spec(57, SemClasses.Crack, i, 160, Figures);
            var a = SemImageGenerator.RenderSample(spec).Image;
            var b = SemImageGenerator.RenderSample(spec).Image;
            Assert.True(a.FigureCrop);
            Assert.Equal(a.Pixels, b.Pixels);
            Assert.Equal(a.DefectBox, b.DefectBox);
        }
    }

    [Fact]
    public void A_jpeg_round_trip_changes_only_the_8x8_blocks_a_change_touches()
    {
        var (w, h) = (64, 48);
        var pixels = new byte[w * h];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)((i * 37 + (i / w) * 11) % 200 + 20);
        }
        var changed = (byte[])pixels.Clone();
        changed[(19 * w) + 27] = 255;
        var a = FigureCrop.JpegRoundTrip(pixels, w, h, 60);
        var b = FigureCrop.JpegRoundTrip(changed, w, h, 60);
        var differ = 0;
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var inBlock = x / 8 == 27 / 8 && y / 8 == 19 / 8;
                if (!inBlock)
                {
                    Assert.True(a[(y * w) + x] == b[(y * w) + x], $"pixel ({x},{y}) outside the changed block differs");
                }
                differ += a[(y * w) + x] != b[(y * w) + x] ? 1 : 0;
            }
        }
        Assert.True(differ > 0, "the change did not survive the round trip");
        Assert.NotEqual(pixels, a);
    }

    [Fact]
    public void Magnification_scales_the_pattern_pitch()
    {
        // The same scene stream at magnification 1 and 3: every grating and contact pitch is three times larger.
        for (var seed = 1UL; seed <= 20; seed++)
        {
            var one = SceneBuilder.Build(SynthRandom.ForStream(seed, 2), SemClasses.Clean, 256, 256, new PixelRect(0, 0, 256, 256),
                SynthesisSettings.Pretraining with { Magnification = (1, 1) });
            var three = SceneBuilder.Build(SynthRandom.ForStream(seed, 2), SemClasses.Clean, 256, 256, new PixelRect(0, 0, 256, 256),
                SynthesisSettings.Pretraining with { Magnification = (3, 3) });
            Assert.Equal(one.Layout, three.Layout);
            Assert.Equal(one.Gratings.Select(g => g.Pitch * 3), three.Gratings.Select(g => g.Pitch), new ToleranceComparer(1e-9));
            Assert.Equal(one.ContactArrays.Select(a => a.PitchX * 3), three.ContactArrays.Select(a => a.PitchX), new ToleranceComparer(1e-9));
        }
    }

    [Fact]
    public void Large_prominence_draws_bigger_defects_than_subtle()
    {
        double MeanBoxShare(DefectProminence prominence)
        {
            var settings = SynthesisSettings.Pretraining with { Prominence = prominence, Style = FrameStyle.Review, Magnification = (1, 1) };
            var shares = new List<double>();
            foreach (var name in new[] { SemClasses.Particle, SemClasses.Crack, SemClasses.Other })
            {
                for (var i = 0; i < 12; i++)
                {
                    var box = SemImageGenerator.RenderSample(Spec(58, name, i, 128, settings)).Image.DefectBox!.Value;
                    shares.Add(box.Width * box.Height / (128.0 * 128));
                }
            }
            return shares.Average();
        }

        var subtle = MeanBoxShare(DefectProminence.Subtle);
        var large = MeanBoxShare(DefectProminence.Large);
        Assert.True(large > 1.5 * subtle, $"large defects cover {large:P0} of the frame on average, subtle ones {subtle:P0}");
    }

    [Fact]
    public void Nuisances_are_drawn_at_the_same_rate_for_every_class()
    {
        // Figure crops, their arrows and ellipses, TEM contrast and bare films must not tell the class. Over 160 images
        // per class (after the redraws a dataset run makes) each rate stays within sampling error of the pooled rate.
        const int Samples = 160;
        var rates = new Dictionary<string, (double Figure, double Arrow, double Ellipse)>();
        foreach (var name in SemClasses.Names)
        {
            var (figure, arrow, ellipse) = (0, 0, 0);
            for (var i = 0; i < Samples; i++)
            {
                var image = SemImageGenerator.RenderSample(Spec(59, name, i, 64, SynthesisSettings.Pretraining)).Image;
                figure += image.FigureCrop ? 1 : 0;
                arrow += image.Arrow ? 1 : 0;
                ellipse += image.Ellipse ? 1 : 0;
            }
            rates[name] = (figure / (double)Samples, arrow / (double)Samples, ellipse / (double)Samples);
        }

        var share = SynthesisSettings.Pretraining.FigureCropRate;
        foreach (var (name, r) in rates)
        {
            // Binomial standard deviation at n = 160: 3.8 points for 0.35, 2.9 for 0.105 (0.35 x 0.3), 2.4 for 0.07.
            Assert.InRange(r.Figure, share - 0.12, share + 0.12);
            Assert.InRange(r.Arrow, share * 0.3 - 0.09, share * 0.3 + 0.09);
            Assert.InRange(r.Ellipse, share * 0.2 - 0.075, share * 0.2 + 0.075);
        }
        Assert.True(rates.Values.Max(r => r.Figure) - rates.Values.Min(r => r.Figure) < 0.2, "figure-crop rates spread too far across classes");
    }

    [Fact]
    public void The_same_seed_gets_the_same_frame_whatever_the_class()
    {
        // Stronger than a rate: the figure and furniture streams never look at the class, so one seed draws one frame.
        for (var i = 0; i < 40; i++)
        {
            var seed = ImageSeeds.Derive(60, DatasetSplit.Train, 0, i);
            var looks = new HashSet<(bool, bool, bool)>();
            foreach (var name in SemClasses.Names)
            {
                try
                {
                    var image = SemImageGenerator.Render(new SampleSpec(seed, name, 64, 64), withDefect: false);
                    looks.Add((image.FigureCrop, image.Arrow, image.Ellipse));
                }
                catch (DefectNotPlacedException)
                {
                    // This seed's scene cannot carry that class's defect; a dataset run would redraw it.
                }
            }
            Assert.Single(looks);
        }
    }

    [Fact]
    public void The_legacy_settings_draw_review_frames_only_at_magnification_one()
    {
        for (var i = 0; i < 20; i++)
        {
            var image = SemImageGenerator.RenderSample(Spec(61, SemClasses.Bridge, i, 96, SynthesisSettings.Legacy)).Image;
            Assert.False(image.FigureCrop);
        }
        Assert.Equal(FrameStyle.Review, SynthesisSettings.Legacy.Style);
    }

    [Theory]
    [InlineData("--magnification", "0:2")]
    [InlineData("--magnification", "3:1")]
    [InlineData("--magnification", "wide")]
    [InlineData("--prominence", "huge")]
    [InlineData("--style", "poster")]
    [InlineData("--figure-crop-rate", "1.5")]
    [InlineData("--contrast", "0.1:1")]
    [InlineData("--contrast", "1:x")]
    public async Task Bad_distribution_options_exit_with_usage_code_a_one_line_error_and_write_nothing(string option, string value)
    {
        using var tmp = new TempFolder();
        var error = new StringWriter();
        var before = Console.Error;
        Console.SetError(error);
        int code;
        try
        {
            code = await WorkstationCli.RunAsync(["synth", "--out", tmp.Combine("X"), "--per-class", "1", "--size", "64", option, value], CancellationToken.None);
        }
        finally
        {
            Console.SetError(before);
        }
        Assert.Equal(SemEdgeCli.ExitUsage, code);
        Assert.False(Directory.Exists(tmp.Combine("X")));
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(option, lines[0]);
    }

    [Fact]
    public async Task The_distribution_options_shift_what_synth_draws()
    {
        using var tmp = new TempFolder();
        Assert.Equal(0, await WorkstationCli.RunAsync(["synth", "--out", tmp.Combine("a"), "--per-class", "1", "--size", "96", "--classes", "clean,particle"], CancellationToken.None));
        Assert.Equal(0, await WorkstationCli.RunAsync(["synth", "--out", tmp.Combine("b"), "--per-class", "1", "--size", "96", "--classes", "clean,particle",
            "--magnification", "2:4", "--prominence", "large", "--style", "figure", "--contrast", "1.2"], CancellationToken.None));
        var a = File.ReadAllBytes(Path.Combine(tmp.Combine("a"), "train", "particle", "particle-00000.png"));
        var b = File.ReadAllBytes(Path.Combine(tmp.Combine("b"), "train", "particle", "particle-00000.png"));
        Assert.NotEqual(a, b);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance * Math.Max(1, Math.Abs(x));

        public int GetHashCode(double obj) => 0;
    }
}
