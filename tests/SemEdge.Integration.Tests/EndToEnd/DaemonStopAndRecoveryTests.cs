using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SemEdge.Tests.Hosting;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.EndToEnd;

/// <summary>Issue 12 items 6 and 7: a clean stop leaves nothing claimed; a kill between outbox and pulse is reported.</summary>
[Collection(DaemonCollection.Name)]
public sealed class DaemonStopAndRecoveryTests(SyntheticImages images, ITestOutputHelper output) : IDisposable
{
    private const int AlarmLine = 24;

    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task A_clean_stop_finishes_the_image_in_flight_and_hands_the_queued_ones_back()
    {
        using var gate = new SemaphoreSlim(0);
        var inspector = new FakeInspector("1", gate);
        var daemon = await DaemonUnderTest.StartWithInspectorAsync(
            _root.Combine("daemon"), inspector, ["--Pipeline:Workers=1", "--Pipeline:QueueCapacity=8"]);
        var staged = images.Stage(daemon.Drop, 6);
        foreach (var file in staged)
        {
            File.Move(file, Path.Combine(daemon.Drop, SyntheticImages.ArrivalName(file)));
        }

        // One image held in inspection, five claimed and queued behind it.
        await inspector.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(() => daemon.Counters.Claimed == 6, "six images claimed");
        Assert.Equal(6, Directory.GetFiles(daemon.Processing).Length);

        var stopping = daemon.Host.StopAsync();
        await Task.Delay(200);
        gate.Release(10);
        await stopping;
        daemon.Host.Dispose();

        Assert.Empty(Directory.GetFiles(daemon.Processing));
        Assert.Single(Directory.GetFiles(daemon.Archive, "*.png", SearchOption.AllDirectories));
        Assert.Equal(5, Directory.GetFiles(daemon.Drop, "*.png").Length);
        Assert.Equal(1, inspector.Inspections);
    }

    [Fact]
    public async Task Killed_between_the_outbox_and_the_pulse_the_PLC_gets_a_missed_pulse_alarm_for_that_seq()
    {
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await MqttProbe.ConnectAsync(broker.Port, "semedge/test/#", persistent: true, clientId: "plc-alarm");
        var root = _root.Combine("daemon");
        // Every class rejects, so the first image needs a pulse.
        string[] extra = ["--Decision:Actions:clean=Reject", "--Decision:DefaultMinConfidence=0", "--Pipeline:Workers=1"];
        var settings = DaemonUnderTest.Settings(root, DaemonUnderTest.External(broker.Port), extra);
        var daemon = await DaemonProcess.StartAsync(root, [.. settings, "--Pipeline:TestOnlyKillBeforePulse=true"]);
        string image;
        try
        {
            var staged = images.Stage(Path.Combine(root, "drop"), 1);
            image = SyntheticImages.ArrivalName(staged[0]);
            File.Move(staged[0], Path.Combine(root, "drop", image));
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (!daemon.HasExited)
            {
                await Task.Delay(100, exited.Token);
            }

            // (Its last log line may not make it out: the console logger writes from a queue, and SIGKILL is instant.)
        }
        finally
        {
            await daemon.DisposeAsync();
        }

        Assert.Single(Directory.GetFiles(Path.Combine(root, "processing")));
        Assert.Contains("\"seq\":1", File.ReadAllText(Path.Combine(root, "outbox", "outbox.log")), StringComparison.Ordinal);

        // The restart in this process, on the recording GPIO driver, with the optional alarm line wired.
        var restarted = await DaemonUnderTest.StartAsync(root, DaemonUnderTest.External(broker.Port), [.. extra, $"--Gpio:Alarm:Line={AlarmLine}"]);
        try
        {
            await Eventually.TrueAsync(() => plc.Payloads("alarm").Count > 0, "the missed-pulse alarm", 60);
            using var alarm = JsonDocument.Parse(plc.Payloads("alarm")[0]);
            Assert.Equal("missed-pulse", alarm.RootElement.GetProperty("alarm").GetString());
            Assert.Equal(1, alarm.RootElement.GetProperty("seq").GetInt64());
            Assert.Equal(image, alarm.RootElement.GetProperty("image").GetString());
            Assert.Equal("reject", alarm.RootElement.GetProperty("action").GetString());
            await Eventually.TrueAsync(() => plc.Verdicts().Any(v => v.GetProperty("seq").GetInt64() == 1), "verdict seq 1", 60);
            await Eventually.TrueAsync(() => !Directory.EnumerateFiles(Path.Combine(root, "outbox", "alarms")).Any(), "alarm removed after its PUBACK", 30);
            await Eventually.TrueAsync(() => restarted.Pulses(AlarmLine) == 1, "one pulse on the alarm line", 30);

            // A late reject pulse would hit another part: the alarm line fires, the reject line does not.
            Assert.Equal(0, restarted.Pulses(DaemonUnderTest.RejectLine));
        }
        catch
        {
            foreach (var record in restarted.Log.GetSnapshot())
            {
                output.WriteLine($"{record.Level}: {record.Message}");
            }

            throw;
        }
        finally
        {
            await restarted.DisposeAsync();
        }

        Assert.Equal(1, restarted.Pulses(AlarmLine));
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "processing")));
        Assert.Single(Directory.GetFiles(Path.Combine(root, "archive"), "*.png", SearchOption.AllDirectories));
        Assert.Single(plc.Payloads("alarm"));
        output.WriteLine($"kill -9 between outbox and pulse: alarm {plc.Payloads("alarm")[0]}");
    }
}
