using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SemEdge.Cli;
using SemEdge.Inference;
using SemEdge.Pipeline;
using SemEdge.Publishing;
using SemEdge.Tests.Imaging;
using SemEdge.Tests.Inference;
using SemEdge.Tests.Platform;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// The daemon from drop folder to PLC: real files, the fixture ONNX models, a real mosquitto, GPIO faked at the
/// driver seam. Figures (throughput, latency, outage held) are printed, never asserted.
/// </summary>
[Collection(DaemonCollection.Name)]
public sealed class DaemonEndToEndTests(SyntheticImages images, ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Two_hundred_images_give_two_hundred_verdicts_with_the_classifier_labels_and_a_pulse_per_reject()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await VerdictSubscriber.ConnectAsync(broker.Port);
        await using var daemon = await DaemonUnderTest.StartAsync(_root.Combine("daemon"), DaemonUnderTest.External(broker.Port));
        var staged = images.Stage(daemon.Drop, SyntheticImages.Count);
        var droppedAt = new Dictionary<string, long>();

        // First half at a steady 20 images/s, for the drop-to-verdict latency; second half at once, for throughput.
        var paced = staged.Take(100).ToList();
        foreach (var file in paced)
        {
            Drop(file, daemon.Drop, droppedAt);
            await Task.Delay(50);
        }

        await plc.WaitForImagesAsync(paced.Count, TimeSpan.FromSeconds(60));
        var burstStart = Stopwatch.GetTimestamp();
        foreach (var file in staged.Skip(100))
        {
            Drop(file, daemon.Drop, droppedAt);
        }

        await plc.WaitForImagesAsync(SyntheticImages.Count, TimeSpan.FromSeconds(120));
        var verdicts = plc.Verdicts;

        // One verdict per image, in seq order, nothing left behind.
        Assert.Equal(SyntheticImages.Count, verdicts.Count);
        Assert.Equal(Enumerable.Range(1, SyntheticImages.Count).Select(i => (long)i), verdicts.Select(v => v.Seq));
        Assert.Equal(staged.Select(SyntheticImages.ArrivalName).Order(), verdicts.Select(v => v.Image).Order());
        Assert.Empty(Directory.GetFiles(daemon.Drop));
        Assert.Empty(Directory.GetFiles(daemon.Processing));
        Assert.Equal(SyntheticImages.Count, Directory.GetFiles(daemon.Archive, "*.png", SearchOption.AllDirectories).Length);

        // The label is the one `semedge classify` gives for that file on its own.
        var classified = Classify(images.Files);
        foreach (var verdict in verdicts)
        {
            var expected = classified[verdict.Image];
            Assert.True(expected.Label == verdict.Label, $"{verdict.Image}: daemon said {verdict.Label}, semedge classify says {expected.Label}");
            Assert.Equal(expected.Action, verdict.Action);
        }

        // A reject pulse for each reject: every reject verdict was signalled once, and each pulse that started is one
        // rising edge on the reject line (a reject arriving during a pulse extends it: the gate stays open for both).
        var rejects = verdicts.Where(v => v.Action == "reject").Select(v => v.Image).Order().ToList();
        var signalled = daemon.RejectLog.Collector.GetSnapshot().Where(l => l.Message.StartsWith("reject pulse for ", StringComparison.Ordinal)).ToList();
        Assert.Equal(rejects, signalled.Select(l => l.Message.Split(' ')[3]).Order());
        Assert.Equal(signalled.Count(l => l.Message.Contains(" started ", StringComparison.Ordinal)), daemon.Pulses(DaemonUnderTest.RejectLine));

        var latencies = paced.Select(SyntheticImages.ArrivalName)
            .Select(name => Stopwatch.GetElapsedTime(droppedAt[name], verdicts.Single(v => v.Image == name).ReceivedAt).TotalMilliseconds)
            .Order()
            .ToList();
        var burstSeconds = Stopwatch.GetElapsedTime(burstStart, verdicts.Max(v => v.ReceivedAt)).TotalSeconds;
        var agreement = verdicts.Count(v => v.Label == SyntheticImages.TrueClass(v.Image));
        Report(
            $"daemon figures: {SyntheticImages.Count} images 256x256, fixture models (screen + classifier), cpu",
            $"  sustained: {100 / burstSeconds:0.0} images/s (100 dropped at once, last verdict after {burstSeconds:0.00} s)",
            $"  drop->verdict at 20 images/s: p50 {Percentile(latencies, 0.50):0.0} ms, p99 {Percentile(latencies, 0.99):0.0} ms, max {latencies[^1]:0.0} ms",
            $"  labels equal to semedge classify on the same file: {SyntheticImages.Count}/{SyntheticImages.Count}",
            $"  labels equal to the true class in the file name: {agreement}/{SyntheticImages.Count} ({100.0 * agreement / SyntheticImages.Count:0.0}%)",
            $"  rejects {rejects.Count}, reject pulses started {daemon.Pulses(DaemonUnderTest.RejectLine)} (the rest extended an active pulse)");
    }

    [Fact]
    public async Task Broker_outage_delivers_every_verdict_in_order_and_the_late_ones_as_replays()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await VerdictSubscriber.ConnectAsync(broker.Port);
        await using var daemon = await DaemonUnderTest.StartAsync(_root.Combine("daemon"), DaemonUnderTest.External(broker.Port));
        var staged = images.Stage(daemon.Drop, 90);
        var droppedAt = new Dictionary<string, long>();

        foreach (var file in staged.Take(20))
        {
            Drop(file, daemon.Drop, droppedAt);
        }

        await plc.WaitForImagesAsync(20, TimeSpan.FromSeconds(60));
        await broker.StopAsync();
        var outageStart = DateTimeOffset.UtcNow;
        foreach (var file in staged.Skip(20).Take(60))
        {
            Drop(file, daemon.Drop, droppedAt);
            await Task.Delay(10);
        }

        await Eventually.TrueAsync(() => daemon.Counters.Inspected == 80, "all 80 images decided while the broker is down", 60);

        // The publisher marks as replays what was in the outbox at its last failed connection attempt (attempts come
        // at most Mqtt:ReconnectMax = TimeSpan.FromSeconds(0.5) s apart here): let one more fail after the last verdict.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var held = daemon.Host.Services.GetRequiredService<VerdictOutbox>().PendingCount;
        var outageEnd = DateTimeOffset.UtcNow;
        await broker.StartAsync();
        await plc.ConnectAsync();

        // Once the held verdicts are through, the publisher is connected: what comes next is live.
        await plc.WaitForImagesAsync(80, TimeSpan.FromSeconds(60));
        foreach (var file in staged.Skip(80))
        {
            Drop(file, daemon.Drop, droppedAt);
        }

        await plc.WaitForImagesAsync(90, TimeSpan.FromSeconds(60));
        var verdicts = plc.Verdicts;

        // At-least-once: a verdict in flight when the broker died may come twice, always with its own seq.
        var firstSeen = verdicts.GroupBy(v => v.Seq).Select(g => g.First()).ToList();
        Assert.Equal(Enumerable.Range(1, 90).Select(i => (long)i), firstSeen.Select(v => v.Seq));
        Assert.All(verdicts.GroupBy(v => v.Seq), g => Assert.Single(g.Select(v => v.Image).Distinct()));
        var decidedDuringOutage = firstSeen.Where(v => v.Timestamp > outageStart && v.Timestamp < outageEnd).ToList();
        Assert.True(decidedDuringOutage.Count >= 50, $"only {decidedDuringOutage.Count} verdicts were decided during the outage");
        Assert.All(decidedDuringOutage, v => Assert.True(v.Replay, $"seq {v.Seq} waited out the outage but is not marked replay"));
        Assert.All(firstSeen.Where(v => v.Seq > 80), v => Assert.False(v.Replay, $"seq {v.Seq} was live but marked replay"));
        Assert.True(held >= 50, $"the outbox held {held} verdicts at the end of the outage");

        Report(
            $"broker outage: {held} verdicts held in the outbox while mosquitto was down {(outageEnd - outageStart).TotalSeconds:0.0} s; " +
            $"all 90 delivered in seq order after restart, {decidedDuringOutage.Count} marked replay, {verdicts.Count - 90} duplicate deliveries");
    }

    [Fact]
    public async Task Outage_longer_than_the_outbox_holds_leaves_images_waiting_in_the_drop_folder_and_loses_nothing()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await VerdictSubscriber.ConnectAsync(broker.Port);
        await using var daemon = await DaemonUnderTest.StartAsync(
            _root.Combine("daemon"), DaemonUnderTest.External(broker.Port), ["--Outbox:MaxEntries=10"]);
        var staged = images.Stage(daemon.Drop, 40);
        var droppedAt = new Dictionary<string, long>();
        await broker.StopAsync();

        foreach (var file in staged)
        {
            Drop(file, daemon.Drop, droppedAt);
        }

        // The outbox takes ten verdicts; then nothing more is decided and the images wait where the SEM put them.
        await Eventually.TrueAsync(() => daemon.Counters.Inspected == 10, "ten verdicts while the broker is down", 60);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(10, daemon.Counters.Inspected);
        var waiting = Directory.GetFiles(daemon.Drop).Length;
        Assert.True(waiting >= 20, $"only {waiting} images wait in the drop folder");

        await broker.StartAsync();
        await plc.ConnectAsync();
        await plc.WaitForImagesAsync(40, TimeSpan.FromSeconds(90));
        var firstSeen = plc.Verdicts.GroupBy(v => v.Seq).Select(g => g.First()).ToList();
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), firstSeen.Select(v => v.Seq));
        Assert.Equal(40, firstSeen.Select(v => v.Image).Distinct().Count());
        Report($"outbox full (Outbox:MaxEntries=10) during an outage: {waiting} images waited in the drop folder; all 40 delivered after restart");
    }

    [Fact]
    public async Task Bad_inputs_are_quarantined_with_reasons_a_file_being_written_is_waited_for_and_the_daemon_keeps_serving()
    {
        await using var daemon = await DaemonUnderTest.StartAsync(
            _root.Combine("daemon"), DaemonUnderTest.Embedded(FreePort.Next()), ["--Inference:MaxPixels=4194304"]);
        var good = await File.ReadAllBytesAsync(images.Files[0]);
        var outside = _root.Combine("outside.png");
        await File.WriteAllBytesAsync(outside, good);

        // A slow writer: the image arrives in pieces 100 ms apart, each within Ingest:StableFor of the last.
        var slow = Path.Combine(daemon.Drop, "slow.png");
        var writing = Task.Run(async () =>
        {
            await using var stream = new FileStream(slow, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            foreach (var chunk in good.Chunk((good.Length / 12) + 1))
            {
                await stream.WriteAsync(chunk);
                await stream.FlushAsync();
                await Task.Delay(100);
            }
        });

        Write("empty.png", []);
        Write("truncated.png", good[..(good.Length / 3)]);
        Write("wrong-magic.png", "GIF89a? no, just text pretending to be an image"u8.ToArray());
        Write("huge.png", WithPngSize(good, 100_000, 100_000));
        File.CreateSymbolicLink(Path.Combine(daemon.Drop, "escape.png"), outside);
        await writing;
        Write("good.png", good);

        await Eventually.TrueAsync(() => daemon.Counters.Inspected == 2 && daemon.Counters.Quarantined == 5, "2 inspected and 5 quarantined", 60);
        var reasons = Directory.GetFiles(daemon.Quarantine, "*.error.json")
            .ToDictionary(
                f => Path.GetFileName(f)[..^".error.json".Length],
                f => System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("reason").GetString());
        Assert.Equal(
            new Dictionary<string, string?>
            {
                ["empty.png"] = "empty",
                ["truncated.png"] = "truncated",
                ["wrong-magic.png"] = "unsupported-format",
                ["huge.png"] = "too-large",
                ["escape.png"] = "escaped-path",
            },
            reasons);
        Assert.Equal(outside, new FileInfo(Path.Combine(daemon.Quarantine, "escape.png")).LinkTarget);
        Assert.Equal(good, await File.ReadAllBytesAsync(outside));
        var archived = Directory.GetFiles(daemon.Archive, "*.png", SearchOption.AllDirectories).Select(Path.GetFileName).Order();
        Assert.Equal(["good.png", "slow.png"], archived);
        Assert.Equal(good, await File.ReadAllBytesAsync(Directory.GetFiles(daemon.Archive, "slow.png", SearchOption.AllDirectories).Single()));
        Assert.Contains(daemon.Log.GetSnapshot(), l => l.Message.Contains("Quarantined huge.png (too-large)", StringComparison.Ordinal));

        void Write(string name, byte[] bytes)
        {
            var temporary = Path.Combine(daemon.Drop, $".{name}.tmp");
            File.WriteAllBytes(temporary, bytes);
            File.Move(temporary, Path.Combine(daemon.Drop, name));
        }
    }

    [Fact]
    public async Task New_model_in_the_models_folder_is_swapped_in_and_a_bad_one_is_refused()
    {
        var models = _root.Combine("models");
        Directory.CreateDirectory(models);
        foreach (var file in Directory.GetFiles(DaemonUnderTest.FixtureModels))
        {
            File.Copy(file, Path.Combine(models, Path.GetFileName(file)));
        }

        TestModels.Sign(Path.Combine(models, "classifier.json"));
        TestModels.Sign(Path.Combine(models, "screen.json"));

        var port = FreePort.Next();
        await using var daemon = await DaemonUnderTest.StartAsync(
            _root.Combine("daemon"),
            DaemonUnderTest.Embedded(port),
            [
                $"--Inference:ClassifierManifest={Path.Combine(models, "classifier.json")}",
                $"--Inference:ScreenManifest={Path.Combine(models, "screen.json")}",
                "--Pipeline:ModelCheckInterval=00:00:00.2",
            ]);
        await using var plc = await MqttProbe.ConnectAsync(port, "semedge/test/model");
        await Eventually.TrueAsync(() => plc.Payloads("model").Any(p => p.Contains("\"version\":\"1\"", StringComparison.Ordinal)), "model v1 announced");
        var store = daemon.Host.Services.GetRequiredService<ModelStore>();

        // Version 2 names a model file whose checksum does not match: refused, v1 keeps deciding.
        var v1 = ModelManifest.Load(Path.Combine(models, "classifier.json"));
        File.WriteAllBytes(Path.Combine(models, "classifier-v2.onnx"), [.. File.ReadAllBytes(Path.Combine(models, "classifier.onnx")), 0]);
        TestModels.Install(v1 with { Version = "2", File = "classifier-v2.onnx" }, Path.Combine(models, "classifier-v2.json"));
        await Eventually.TrueAsync(
            () => daemon.Log.GetSnapshot().Any(l => l.Message.Contains("Refused new model", StringComparison.Ordinal) && l.Message.Contains("classifier-v2.json", StringComparison.Ordinal)),
            "the bad model refused with a log line");
        Assert.Equal("1", store.Announcement.Version);

        // Version 3 is sound: swapped in and announced.
        File.Copy(Path.Combine(models, "classifier.onnx"), Path.Combine(models, "classifier-v3.onnx"));
        TestModels.Install(v1 with { Version = "3", File = "classifier-v3.onnx" }, Path.Combine(models, "classifier-v3.json"));
        await Eventually.TrueAsync(() => plc.Payloads("model").Any(p => p.Contains("\"version\":\"3\"", StringComparison.Ordinal)), "model v3 announced");
        Assert.Equal("3", store.Announcement.Version);

        var staged = images.Stage(daemon.Drop, 1).Single();
        File.Move(staged, Path.Combine(daemon.Drop, SyntheticImages.ArrivalName(staged)));
        await Eventually.TrueAsync(() => daemon.Counters.Inspected == 1, "an image inspected by the new model");
    }

    /// <summary>Runs <c>semedge classify --json</c> over the files with the daemon's models; label and action per image.</summary>
    private static Dictionary<string, (string Label, string Action)> Classify(IReadOnlyList<string> files)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = ClassifyCommand.Run(
            new ClassifyCommand.ClassifyRequest(
                files,
                Json: true,
                new InferenceOptions
                {
                    ClassifierManifest = Path.Combine(DaemonUnderTest.FixtureModels, "classifier.json"),
                    ScreenManifest = Path.Combine(DaemonUnderTest.FixtureModels, "screen.json"),
                    Threads = 1,
                },
                NoScreen: false),
            output,
            error,
            CancellationToken.None);
        Assert.True(code == SemEdgeCli.ExitOk, error.ToString());
        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement)
            .ToDictionary(j => j.GetProperty("image").GetString()!, j => (j.GetProperty("label").GetString()!, j.GetProperty("action").GetString()!));
    }

    private static void Drop(string staged, string drop, Dictionary<string, long> droppedAt)
    {
        var name = SyntheticImages.ArrivalName(staged);
        File.Move(staged, Path.Combine(drop, name));
        droppedAt[name] = Stopwatch.GetTimestamp();
    }

    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private void Report(params string[] lines)
    {
        foreach (var line in lines)
        {
            output.WriteLine(line);
            Console.WriteLine(line);
        }
    }

    /// <summary>A real PNG whose IHDR (CRC recomputed) now declares another size: a decompression bomb's header.</summary>
    private static byte[] WithPngSize(byte[] png, int width, int height)
    {
        var patched = png.ToArray();
        Assert.Equal("IHDR"u8.ToArray(), patched[12..16]);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(patched.AsSpan(16), width);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(patched.AsSpan(20), height);
        TestImages.FixCrc(patched, chunk: 8);
        return patched;
    }
}
