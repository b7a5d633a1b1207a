using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.EndToEnd;

[Collection(DaemonCollection.Name)]
public sealed class DaemonCrashTests(SyntheticImages images, ITestOutputHelper output) : IDisposable
{
    private const int Images = 80;

    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Daemon_killed_with_SIGKILL_mid_stream_and_restarted_loses_no_image_and_no_verdict()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await VerdictSubscriber.ConnectAsync(broker.Port);
        var root = _root.Combine("daemon");
        // More decode workers than cores, so images are decoded, waiting for inference and being recorded at the kill.
        var settings = DaemonUnderTest.Settings(root, DaemonUnderTest.External(broker.Port), ["--Pipeline:Workers=3"]);
        var daemon = await DaemonProcess.StartAsync(root, settings);
        try
        {
            var staged = images.Stage(Path.Combine(root, "drop"), Images);
            var feeding = Task.Run(async () =>
            {
                foreach (var file in staged)
                {
                    File.Move(file, Path.Combine(root, "drop", SyntheticImages.ArrivalName(file)));
                    await Task.Delay(30);
                }
            });

            await plc.WaitForImagesAsync(25, TimeSpan.FromSeconds(60));
            await daemon.KillAsync();
            var killedAfter = plc.Verdicts.Count;
            output.WriteLine($"SIGKILL after {killedAfter} verdicts had reached the PLC");

            daemon = await DaemonProcess.StartAsync(root, settings);
            await feeding;
            await plc.WaitForImagesAsync(Images, TimeSpan.FromSeconds(120));
            Assert.Equal(0, await daemon.StopAsync());
        }
        catch
        {
            output.WriteLine(daemon.Output);
            throw;
        }
        finally
        {
            await daemon.DisposeAsync();
        }

        var verdicts = plc.Verdicts;
        var bySeq = verdicts.GroupBy(v => v.Seq).ToList();

        // No verdict lost: one seq per image, seqs 1..80 without a gap; no image decided twice.
        Assert.Equal(Enumerable.Range(1, Images).Select(i => (long)i), bySeq.Select(g => g.Key).Order());
        Assert.Equal(Images, verdicts.Select(v => v.Image).Distinct().Count());
        Assert.All(verdicts.GroupBy(v => v.Image), g => Assert.Single(g.Select(v => v.Seq).Distinct()));

        // Duplicates (a verdict published but not yet acknowledged when the process died) are marked replay.
        Assert.All(bySeq.Where(g => g.Count() > 1), g => Assert.All(g.Skip(1), v => Assert.True(v.Replay, $"duplicate of seq {g.Key} not marked replay")));

        // No image lost: every one archived, nothing left behind.
        Assert.Equal(Images, Directory.GetFiles(Path.Combine(root, "archive"), "*.png", SearchOption.AllDirectories).Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "drop")));
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "processing")));
        Assert.False(Directory.Exists(Path.Combine(root, "quarantine")) && Directory.EnumerateFiles(Path.Combine(root, "quarantine")).Any());
        output.WriteLine($"SIGKILL mid-stream: {Images} images, {Images} verdicts, {verdicts.Count - Images} duplicate deliveries (all marked replay)");
    }
}
