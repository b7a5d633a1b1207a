using Microsoft.Extensions.Logging.Abstractions;
using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Web;

namespace SemEdge.Tests.Web;

/// <summary>The live thumbnails kept from the model input: bounded, newest wins, matched to their verdict exactly.</summary>
public sealed class ThumbnailRingTests : IDisposable
{
    private static readonly Preprocessing Model = new() { Width = 8, Height = 8, Mean = 0.5f, Std = 0.25f };
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void The_ring_keeps_the_newest_inputs_and_a_verdict_whose_slot_was_taken_has_no_thumbnail()
    {
        var ring = new ThumbnailRing(3);
        for (var i = 1; i <= 5; i++)
        {
            ring.OnModelInput(Verdict(i), Input(level: 40 * i), Model, 8, 8);
            ring.Attach(Verdict(i) with { Seq = i }, PathOf(i));
        }

        Assert.Null(ring.Png(PathOf(1)));
        Assert.Null(ring.Png(PathOf(2)));
        for (var i = 3; i <= 5; i++)
        {
            var (pixels, width, height) = PngGray.Decode(ring.Png(PathOf(i)) ?? throw new InvalidOperationException($"no thumbnail for {i}"));
            Assert.Equal((8, 8), (width, height));
            Assert.All(pixels, p => Assert.Equal(40 * i, p));
        }

        // An input that came after its verdict's slot was reused is attached to nothing.
        ring.Attach(Verdict(1), PathOf(1));
        Assert.Null(ring.Png(PathOf(1)));
    }

    [Fact]
    public void A_thumbnail_answers_only_to_its_own_verdict_and_keeps_a_copy_of_the_input()
    {
        var ring = new ThumbnailRing(4);
        var input = Input(level: 200);
        var first = Verdict(1) with { Image = "same.png" };
        ring.OnModelInput(first, input, Model, 8, 8);
        input.AsSpan().Fill(-2f); // the worker's tensor is overwritten by the next image

        // The same name dropped again later: its own inspection, its own thumbnail.
        var again = first with { Timestamp = first.Timestamp.AddSeconds(1) };
        ring.OnModelInput(again, Input(level: 20), Model, 8, 8);
        Assert.Null(ring.Png("2026-12-01/pass/same.png")); // nothing attached yet: the page falls back to the archive
        ring.Attach(again with { Seq = 2 }, "2026-12-01/pass/same-1.png");
        ring.Attach(first with { Seq = 1 }, "2026-12-01/pass/same.png");

        Assert.All(PngGray.Decode(ring.Png("2026-12-01/pass/same.png")!).Pixels, p => Assert.Equal(200, p));
        Assert.All(PngGray.Decode(ring.Png("2026-12-01/pass/same-1.png")!).Pixels, p => Assert.Equal(20, p));
        Assert.Null(ring.Png("2026-12-01/pass/other.png"));
    }

    [Fact]
    public void A_thumbnail_has_the_images_aspect_although_the_model_saw_a_square()
    {
        var ring = new ThumbnailRing(2);
        ring.OnModelInput(Verdict(1), Input(level: 90), Model, imageWidth: 1024, imageHeight: 512);
        ring.Attach(Verdict(1), PathOf(1));
        var (pixels, width, height) = PngGray.Decode(ring.Png(PathOf(1))!);
        Assert.Equal((8, 4), (width, height));
        Assert.All(pixels, p => Assert.Equal(90, p));
    }

    [Fact]
    public void Levels_outside_the_grey_range_are_clamped_not_wrapped()
    {
        var ring = new ThumbnailRing(1);
        var input = new float[64];
        input.AsSpan(0, 32).Fill(10f);   // far above white
        input.AsSpan(32).Fill(float.NaN); // a broken tensor still gives a picture
        ring.OnModelInput(Verdict(1), input, Model, 8, 8);
        ring.Attach(Verdict(1), PathOf(1));
        var pixels = PngGray.Decode(ring.Png(PathOf(1))!).Pixels;
        Assert.All(pixels.Take(32), p => Assert.Equal(255, p));
        Assert.All(pixels.Skip(32), p => Assert.Equal(0, p));
    }

    [Fact]
    public void The_feed_attaches_the_archive_path_before_any_live_stream_hears_of_the_verdict()
    {
        var archive = new ArchivePaths(_root.Combine("archive"));
        var file = _root.Combine("archive", "2026-12-01", "reject", "img-1.png");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllBytes(file, [1]);
        var ring = new ThumbnailRing(4);
        var feed = new VerdictFeed(16, archive, new VerdictJournal(_root.Combine("web"), archive), new HourlyStats(TimeProvider.System), () => null, NullLogger<VerdictFeed>.Instance, ring);
        using var subscription = feed.Subscribe();
        ring.OnModelInput(Verdict(1), Input(level: 128), Model, 8, 8);

        feed.Publish(Verdict(1) with { Seq = 1 }, file);

        Assert.True(subscription.Reader.TryRead(out var page));
        Assert.Equal("2026-12-01/reject/img-1.png", page.Path);
        Assert.NotNull(ring.Png(page.Path!));
    }

    /// <summary>A model input whose every pixel was grey <paramref name="level"/>.</summary>
    private static float[] Input(int level)
    {
        var input = new float[Model.Width * Model.Height];
        input.AsSpan().Fill(((level / 255f) - Model.Mean) / Model.Std);
        return input;
    }

    private static string PathOf(int i) => $"2026-12-01/reject/img-{i}.png";

    private static Verdict Verdict(int i) => WebPartsTests.Verdict(i);
}
