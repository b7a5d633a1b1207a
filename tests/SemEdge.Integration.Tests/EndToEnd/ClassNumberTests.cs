using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using SemEdge.Decision;
using SemEdge.Hosting;
using SemEdge.Inference;
using SemEdge.Pipeline;
using SemEdge.Signing;
using SemEdge.Tests.Inference;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// The class table and model trust across hot swaps, against a real mosquitto with real ONNX models built here in
/// other class orders (<see cref="TestModels"/>): the numbers the PLC reads never move, a model the table or the
/// trusted keys do not vouch for is refused, and the old model keeps deciding.
/// </summary>
[Collection(DaemonCollection.Name)]
public sealed class ClassNumberTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Swap_to_a_model_with_another_class_order_keeps_every_published_number()
    {
        await using var run = await LiveAsync();
        var before = await run.DropOnePerCellAsync("v1", Enumerable.Range(0, 10));
        AssertTableNumbers(before);

        var reordered = TestModels.Classifier(run.Models, "classifier-v2", TestModels.Reordered, version: "2");
        Assert.NotEqual(ClassTable.DefaultNames.ToList().IndexOf("vias"), ModelManifest.Load(reordered).Classes.ToList().IndexOf("vias"));
        await run.WaitForVersionAsync("2");
        var after = await run.DropOnePerCellAsync("v2", Enumerable.Range(0, 10));

        AssertTableNumbers(after);
        Assert.Equal(before.Select(v => (v.Label, v.Class)), after.Select(v => (v.Label, v.Class)));
        var announced = run.LastModelAnnouncement();
        Assert.Equal(ClassTable.DefaultNames, announced.GetProperty("classTable").EnumerateArray().Select(e => e.GetProperty("label").GetString()));
        Assert.Equal(Enumerable.Range(0, 10), announced.GetProperty("classTable").EnumerateArray().Select(e => e.GetProperty("class").GetInt32()));
        Assert.Empty(announced.GetProperty("missing").EnumerateArray());
    }

    [Fact]
    public async Task Swap_to_a_model_with_a_class_the_table_does_not_know_is_refused_and_the_old_model_keeps_deciding()
    {
        await using var run = await LiveAsync();
        var v1 = ModelManifest.Load(run.Classifier);
        var renamed = v1.Classes.Select(c => c == "other" ? "residue" : c).ToList();
        // Properly signed: only the class table stands in its way.
        TestModels.Install(v1 with { Version = "2", Classes = renamed }, Path.Combine(run.Models, "classifier-v2.json"));

        await Eventually.TrueAsync(
            () => run.Daemon.Log.GetSnapshot().Any(l => l.Message.Contains("Refused new model", StringComparison.Ordinal) && l.Message.Contains("'residue'", StringComparison.Ordinal)),
            "the swap refused, naming the unknown class", 60);
        Assert.Equal("1", run.Store.Announcement.Version);

        var verdict = Assert.Single(await run.DropOnePerCellAsync("after", [9]));
        Assert.Equal(("other", 9, v1.Sha256[..12]), (verdict.Label, verdict.Class, verdict.Sha));
    }

    [Fact]
    public async Task Nine_class_model_publishes_the_table_numbers_and_announces_what_it_cannot_produce()
    {
        await using var run = await LiveAsync();
        var nine = ClassTable.DefaultNames.Where(c => c != "scratch").ToList();
        TestModels.Classifier(run.Models, "classifier-v2", nine, version: "2");
        await run.WaitForVersionAsync("2");

        // Logit indexes 7 and 8 of this model are vias and other; the line must still read 8 and 9.
        var verdicts = await run.DropOnePerCellAsync("nine", [1, 8, 9]);

        Assert.Equal([("bridge", 1), ("vias", 8), ("other", 9)], verdicts.Select(v => (v.Label, v.Class)));
        var announced = run.LastModelAnnouncement();
        Assert.Equal(["scratch"], announced.GetProperty("missing").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(10, announced.GetProperty("classTable").GetArrayLength());
        Assert.Contains(run.Daemon.Log.GetSnapshot(), l => l.Message.Contains("cannot produce the class table's scratch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Relabelled_or_unsigned_manifest_is_refused_at_hot_swap_and_the_old_model_keeps_deciding()
    {
        await using var run = await LiveAsync();
        var v1 = ModelManifest.Load(run.Classifier);

        // The review's attack: clean and bridge swapped in the class list, same ONNX and sha256, higher version,
        // with the genuine manifest's signature beside it (the attacker cannot make a new one).
        var swapped = v1.Classes.Select(c => c switch { "clean" => "bridge", "bridge" => "clean", _ => c }).ToList();
        var relabelled = Path.Combine(run.Models, "classifier-v2.json");
        File.Copy(DetachedSignature.PathFor(run.Classifier), DetachedSignature.PathFor(relabelled));
        TestModels.Install(v1 with { Version = "2", Classes = swapped }, relabelled, sign: false);
        await Eventually.TrueAsync(
            () => run.Daemon.Log.GetSnapshot().Any(l => l.Message.Contains("Refused new model", StringComparison.Ordinal) && l.Message.Contains("classifier-v2.json", StringComparison.Ordinal)
                && l.Message.Contains("does not match its bytes", StringComparison.Ordinal)),
            "the relabelled manifest refused", 60);

        // No signature at all, still higher.
        File.Delete(DetachedSignature.PathFor(relabelled));
        TestModels.Install(v1 with { Version = "3", Classes = swapped }, Path.Combine(run.Models, "classifier-v3.json"), sign: false);
        await Eventually.TrueAsync(
            () => run.Daemon.Log.GetSnapshot().Any(l => l.Message.Contains("Refused new model", StringComparison.Ordinal) && l.Message.Contains("classifier-v3.json is not signed", StringComparison.Ordinal)),
            "the unsigned manifest refused", 60);

        Assert.Equal("1", run.Store.Announcement.Version);
        var verdict = Assert.Single(await run.DropOnePerCellAsync("bridge", [1]));
        Assert.Equal(("bridge", 1, "reject"), (verdict.Label, verdict.Class, verdict.Action));
    }

    [Fact]
    public async Task Wrongly_signed_model_is_refused_at_start()
    {
        var models = _root.Combine("models");
        var manifest = TestModels.Classifier(models, "classifier", ClassTable.DefaultNames, sign: false);
        DetachedSignature.Sign(manifest, DetachedSignature.ModelManifestPurpose, PrivateSigningKey.Generate("stranger"));
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        var log = DaemonUnderTest.WarningsAndErrors();
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            Overrides = DaemonUnderTest.Settings(_root.Combine("daemon"), DaemonUnderTest.External(broker.Port), [$"--Inference:ClassifierManifest={manifest}"]),
            ReadEnvironment = false,
            SiteConfig = EmptySite(),
            ServiceManager = new ServiceManagerEnvironment(null, null),
            ConfigureServices = services => services.AddSingleton<ILoggerProvider>(new FakeLoggerProvider(log)),
        });

        await host.StartAsync();
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        await Eventually.TrueAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, "the daemon gives up starting", 60);
        await host.StopAsync();

        var line = Assert.Single(log.GetSnapshot(), l => l.Message.Contains("Cannot start the pipeline", StringComparison.Ordinal)).Message;
        output.WriteLine(line);
        Assert.Contains("which is not trusted", line);
        Assert.False(host.Services.GetRequiredService<PipelineProgress>().Ready.IsCompleted);
    }

    [Fact]
    public async Task Development_switch_starts_an_unsigned_model_with_a_warning_but_never_swaps_one_in()
    {
        var models = _root.Combine("live");
        var unsigned = TestModels.Classifier(models, "classifier", ClassTable.DefaultNames, sign: false);
        await using var run = await LiveAsync(unsigned, "--Inference:AllowUnsignedModelsAtStart=true");
        Assert.Contains(run.Daemon.Log.GetSnapshot(), l => l.Message.Contains("Starting with an untrusted model", StringComparison.Ordinal) && l.Message.Contains("is not signed", StringComparison.Ordinal));

        TestModels.Classifier(models, "classifier-v2", TestModels.Reordered, version: "2", sign: false);
        await Eventually.TrueAsync(
            () => run.Daemon.Log.GetSnapshot().Any(l => l.Message.Contains("Refused new model", StringComparison.Ordinal) && l.Message.Contains("classifier-v2.json is not signed", StringComparison.Ordinal)),
            "the unsigned swap refused even with the development switch", 60);
        Assert.Equal("1", run.Store.Announcement.Version);

        // Signed, the same model swaps in.
        TestModels.Sign(Path.Combine(models, "classifier-v2.json"));
        await run.WaitForVersionAsync("2");
    }

    private static void AssertTableNumbers(IReadOnlyList<Published> verdicts)
    {
        Assert.Equal(10, verdicts.Count);
        foreach (var v in verdicts)
        {
            Assert.Equal(ClassTable.DefaultNames[v.Cell], v.Label);
            Assert.Equal(v.Cell, v.Class);
        }
    }

    private string EmptySite()
    {
        var path = _root.Combine("site.json");
        File.WriteAllText(path, "{}\n");
        return path;
    }

    /// <summary>A daemon on a real mosquitto, watching a models folder that starts with <paramref name="classifier"/> (default: a signed 10-class model).</summary>
    private async Task<LiveDaemon> LiveAsync(string? classifier = null, params string[] extra)
    {
        var models = _root.Combine("live");
        classifier ??= TestModels.Classifier(models, "classifier", ClassTable.DefaultNames);
        var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        var plc = await MqttProbe.ConnectAsync(broker.Port, "semedge/test/#");
        var daemon = await DaemonUnderTest.StartAsync(
            _root.Combine("daemon"),
            DaemonUnderTest.External(broker.Port),
            [$"--Inference:ClassifierManifest={classifier}", "--Pipeline:ModelCheckInterval=00:00:00.2", .. extra]);
        return new LiveDaemon(broker, plc, daemon, models, classifier);
    }

    private sealed record Published(int Cell, string Label, int Class, string Action, string Sha);

    private sealed class LiveDaemon(Mosquitto broker, MqttProbe plc, DaemonUnderTest daemon, string models, string classifier) : IAsyncDisposable
    {
        public DaemonUnderTest Daemon => daemon;

        public string Models => models;

        public string Classifier => classifier;

        public ModelStore Store => daemon.Host.Services.GetRequiredService<ModelStore>();

        public JsonElement LastModelAnnouncement() => JsonDocument.Parse(plc.Payloads("model")[^1]).RootElement;

        public Task WaitForVersionAsync(string version) => Eventually.TrueAsync(
            () => plc.Payloads("model").Any(p => JsonDocument.Parse(p).RootElement.GetProperty("version").GetString() == version),
            $"model v{version} announced", 60);

        /// <summary>Drops one image per grid cell (the cell's class lights up) and returns their verdicts in cell order.</summary>
        public async Task<IReadOnlyList<Published>> DropOnePerCellAsync(string tag, IEnumerable<int> cells)
        {
            var names = new Dictionary<string, int>();
            foreach (var cell in cells)
            {
                var name = $"{tag}-cell{cell}.png";
                var staged = Path.Combine(daemon.Root, "." + name + ".tmp");
                await File.WriteAllBytesAsync(staged, Fixtures.GridPng(TestModels.Background, cell));
                File.Move(staged, Path.Combine(daemon.Drop, name));
                names[name] = cell;
            }

            await Eventually.TrueAsync(
                () => names.Keys.All(n => plc.Verdicts().Any(v => v.GetProperty("image").GetString() == n)), $"verdicts for {tag}", 60);
            return [.. plc.Verdicts()
                .Where(v => names.ContainsKey(v.GetProperty("image").GetString()!))
                .Select(v => new Published(
                    names[v.GetProperty("image").GetString()!],
                    v.GetProperty("label").GetString()!,
                    v.GetProperty("class").GetInt32(),
                    v.GetProperty("action").GetString()!,
                    v.GetProperty("sha").GetString()!))
                .OrderBy(p => p.Cell)];
        }

        public async ValueTask DisposeAsync()
        {
            await daemon.DisposeAsync();
            await plc.DisposeAsync();
            await broker.DisposeAsync();
        }
    }
}
