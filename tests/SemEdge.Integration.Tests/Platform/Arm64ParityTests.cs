using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SemEdge.Synthesis;
using SemEdge.Tests.Inference;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.Platform;

/// <summary>The published linux-arm64 bundle, run under qemu, answers like the x64 build.</summary>
[Collection(Arm64BundleCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class Arm64ParityTests(Arm64Bundle bundle, ITestOutputHelper output) : IDisposable
{
    // FP32 kernels differ between x64 and arm64 (NEON) in summation order only. INT8 kernels are exact on NEON
    // and on x64 with VNNI, but on AVX2 without VNNI ONNX Runtime's u8s8 path can saturate int16 pair sums
    // (vpmaddubsw), so an x64 CI machine may land a few hundredths away from the board.
    private const double ConfidenceTolerance = 0.05;
    private readonly TempFolder _dir = new();

    [Fact]
    public async Task Classify_json_under_qemu_gives_the_x64_classes_and_confidences()
    {
        // The models the bundle ships (INT8 cascade) on one synthetic image per class: the INT8 kernels differ
        // between AVX2 and NEON; a bundle built without models falls back to the FP32 fixture.
        var images = new DatasetWriter(new DirectoryInfo(_dir.Combine("synth")), new DatasetPlan(3, 256, 0, 0, 1, SemClasses.Names))
            .Write(progress: null, CancellationToken.None)
            .Select(row => _dir.Combine("synth", row.File))
            .ToList();
        List<string> args = bundle.HasModels
            ? ["classify", "--json", .. images]
            : ["classify", "--json", "--no-screen", "--model", Fixtures.CopyModel(Fixtures.Classifier, _dir.Combine("models")), .. images];
        var x64 = await ToolRun.RunAsync(Path.Combine(RepoPaths.Scripts, "semedge"), args, TimeSpan.FromMinutes(5));
        var arm64 = await bundle.RunUnderQemuAsync(args, TimeSpan.FromMinutes(5));

        output.WriteLine($"x64:\n{x64.Output}\narm64 (qemu):\n{arm64.Output}");
        Assert.True(x64.ExitCode == 0, x64.Output);
        Assert.True(arm64.ExitCode == 0, arm64.Output);
        var expected = Parse(x64.Stdout);
        var actual = Parse(arm64.Stdout);
        Assert.Equal(images.Count, expected.Count);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        var maxDiff = 0.0;
        var sameLabels = 0;
        foreach (var (image, (label, confidence)) in expected)
        {
            var (armLabel, armConfidence) = actual[image];
            if (armLabel == label)
            {
                sameLabels++;
                maxDiff = Math.Max(maxDiff, Math.Abs(confidence - armConfidence));
            }
            else
            {
                // Only a near tie may flip: a top-1 above 0.5 + tolerance leaves every other class further away.
                Assert.True(confidence < 0.5 + ConfidenceTolerance,
                    $"{image}: x64 says {label} ({confidence:0.0000}), arm64 says {armLabel} ({armConfidence:0.0000})");
            }
        }

        output.WriteLine($"arm64 (qemu) vs x64 ({X64IntegerDotProduct()}): {expected.Count} images, {sameLabels} same classes, " +
            $"max confidence difference {maxDiff:E2}");
        Assert.True(sameLabels >= expected.Count - 1, $"only {sameLabels} of {expected.Count} images got the same class");
        Assert.True(maxDiff <= ConfidenceTolerance, $"max confidence difference {maxDiff} exceeds {ConfidenceTolerance}");
    }

    [Fact]
    public async Task Run_under_qemu_publishes_a_verdict_to_mosquitto()
    {
        // Signed, and verified on start by the trimmed bundle's BouncyCastle Ed25519 under qemu.
        var model = TestModels.SignedCopy(Fixtures.Classifier, _dir.Combine("models"));
        await using var broker = await Mosquitto.StartAsync(_dir.Path);
        // Subscribed before the daemon starts, so the first verdict cannot be missed.
        await using var plc = await MqttProbe.ConnectAsync(broker.Port, "semedge/qemu-arm64/verdict");

        var drop = Directory.CreateDirectory(_dir.Combine("var", "drop")).FullName;
        string[] settings =
        [
            "run",
            $"--Ingest:DropFolder={drop}",
            $"--Ingest:ProcessingFolder={_dir.Combine("var", "processing")}",
            $"--Ingest:ArchiveFolder={_dir.Combine("var", "archive")}",
            $"--Ingest:QuarantineFolder={_dir.Combine("var", "quarantine")}",
            $"--Outbox:Path={_dir.Combine("var", "outbox")}",
            "--Mqtt:Mode=external", "--Mqtt:Host=127.0.0.1", $"--Mqtt:Port={broker.Port}", "--Mqtt:NodeId=qemu-arm64",
            "--Gpio:Driver=none",
            $"--Inference:ClassifierManifest={model}",
            TestModels.TrustSetting,
            "--Pipeline:UseShippedScreen=false",
            // The emulated CPU is slow: an inspection must not count as stalled.
            "--Systemd:StallLimit=00:05:00",
            // The technician's page in the trimmed bundle too (a free port; its folders here, not in the bundle).
            "--Web:Enabled=true", "--Web:Port=0",
            $"--Web:StateFolder={_dir.Combine("var", "web")}", $"--Web:DatasetFolder={_dir.Combine("var", "dataset")}",
        ];
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(7));
        var started = Stopwatch.StartNew();
        var daemon = bundle.RunUnderQemuAsync(settings, TimeSpan.FromMinutes(8), stop.Token);
        await File.WriteAllBytesAsync(Path.Combine(drop, "part-0001.png"), Fixtures.GridPng(90, 5));

        await Eventually.TrueAsync(() => plc.Verdicts().Count > 0 || daemon.IsCompleted, "a verdict from the emulated daemon", 400);
        var elapsed = started.Elapsed;
        // The page's feed (trimmed, arm64) journals the verdict for its archive browser.
        var journal = _dir.Combine("var", "web", "verdicts");
        await Eventually.TrueAsync(
            () => daemon.IsCompleted || JournalLines(journal).Count(l => l.Contains("\"image\":\"part-0001.png\"", StringComparison.Ordinal)) == 1,
            "the page's journal entry for the verdict", 120);
        var exitedEarly = daemon.IsCompleted;
        await stop.CancelAsync();
        try
        {
            var run = await daemon;
            output.WriteLine($"daemon exited with {run.ExitCode}:\n{run.Output}");
        }
        catch (TimeoutException)
        {
            // Cancelling kills the emulated daemon: the expected end of this test.
        }

        Assert.False(exitedEarly, "the emulated daemon exited before it published a verdict");
        Assert.Single(JournalLines(journal), l => l.Contains("\"image\":\"part-0001.png\"", StringComparison.Ordinal));

        var verdicts = plc.Verdicts();
        output.WriteLine($"verdict after {elapsed.TotalSeconds:0.0} s under qemu: {(verdicts.Count > 0 ? verdicts[0].GetRawText() : "none")}");
        var verdict = Assert.Single(verdicts);
        Assert.Equal("part-0001.png", verdict.GetProperty("image").GetString());
    }

    /// <summary>The lines of the page's day files (<c>verdicts/DAY.jsonl</c>); none before the first verdict.</summary>
    private static IReadOnlyList<string> JournalLines(string journal) =>
        Directory.Exists(journal) ? [.. Directory.GetFiles(journal, "*.jsonl").SelectMany(File.ReadAllLines)] : [];

    public void Dispose() => _dir.Dispose();

    private static string X64IntegerDotProduct() =>
        File.ReadAllText("/proc/cpuinfo").Split([' ', '\n', '\t']).Any(f => f is "avx512_vnni" or "avx_vnni")
            ? "x64 with VNNI" : "x64 without VNNI";

    private static Dictionary<string, (string Label, double Confidence)> Parse(string jsonLines) =>
        jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(
                e => Path.GetFileName(e.GetProperty("path").GetString()!),
                e => (e.GetProperty("label").GetString()!, e.GetProperty("confidence").GetDouble()));
}
