using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;
using SemEdge.Cli;
using SemEdge.Diagnostics;
using SemEdge.Publishing;
using SemEdge.Tests.Platform;
using Xunit.Abstractions;

namespace SemEdge.Tests.Diagnostics;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DoctorTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _dir = new();

    [Fact]
    public async Task Healthy_setup_passes_every_check_including_an_mqtt_connect_to_mosquitto()
    {
        using var broker = await Mosquitto.StartAsync(_dir.Combine("mosquitto"));
        var config = WriteConfig(c => c["Mqtt"] = new JsonObject { ["Mode"] = "external", ["Host"] = "127.0.0.1", ["Port"] = broker.Port });

        var results = await RunDoctorAsync(config);

        Assert.DoesNotContain(results, r => r.Status == CheckStatus.Fail);
        Assert.Contains(results, r => r is { Area: "models", Status: CheckStatus.Pass } && r.Message.Contains("sha256 matches", StringComparison.Ordinal));
        Assert.Contains(results, r => r is { Area: "broker", Status: CheckStatus.Pass } && r.Message.Contains("accepts an MQTT connection", StringComparison.Ordinal));
        Assert.Equal(5, results.Count(r => r is { Area: "folders", Status: CheckStatus.Pass }));
        Assert.Contains(results, r => r is { Area: "config", Status: CheckStatus.Pass });
    }

    [Fact]
    public async Task Model_file_that_does_not_match_its_manifest_sha256_fails()
    {
        var config = WriteConfig();
        await File.AppendAllTextAsync(_dir.Combine("models", "classifier.onnx"), "x");

        var results = await RunDoctorAsync(config);

        var line = Assert.Single(results, r => r.Area == "models" && r.Status == CheckStatus.Fail);
        Assert.Contains("its manifest says", line.Message);
    }

    [Fact]
    public async Task Unsigned_model_fails_and_a_model_lacking_a_table_class_is_a_warning_naming_it()
    {
        var config = WriteConfig();
        var manifest = _dir.Combine("models", "classifier.json");
        var nine = SemEdge.Inference.ModelManifest.Load(manifest);
        SemEdge.Tests.Inference.TestModels.Install(nine with { Classes = [.. nine.Classes.Where(c => c != "scratch"), "other"] }, manifest, sign: false);
        File.Delete(manifest + ".sig");

        var results = await RunDoctorAsync(config);

        Assert.Contains(results, r => r.Area == "models" && r.Status == CheckStatus.Fail && r.Message.Contains("classifier.json is not signed", StringComparison.Ordinal));
        Assert.Contains(results, r => r.Area == "models" && r.Status == CheckStatus.Fail && r.Message.Contains("more than once", StringComparison.Ordinal));

        SemEdge.Tests.Inference.TestModels.Install(nine with { Classes = [.. nine.Classes.Where(c => c != "scratch")] }, manifest);
        results = await RunDoctorAsync(config);

        Assert.Contains(results, r => r.Area == "models" && r.Status == CheckStatus.Pass && r.Message.Contains("signed by trusted key tests", StringComparison.Ordinal));
        Assert.Contains(results, r => r.Area == "models" && r.Status == CheckStatus.Warn && r.Message.Contains("cannot produce scratch (7)", StringComparison.Ordinal));
    }

    // Runs scripts/semedge, which may build the workstation first: slow, so scripts/test --fast leaves it out.
    [Fact]
    [Trait("Category", "Slow")]
    public async Task Invalid_setting_fails_with_the_daemons_own_validation_message_and_exit_code_1()
    {
        var config = WriteConfig(c => c["Ingest"]!["StableFor"] = "00:30:00");

        var results = await RunDoctorAsync(config);
        // The command as a technician runs it, in its own process (its report stays out of the test log).
        var doctor = await ToolRun.RunAsync(Path.Combine(RepoPaths.Scripts, "semedge"), ["doctor", "--config", config], TimeSpan.FromMinutes(5));

        Assert.Contains(results, r => r is { Area: "config", Status: CheckStatus.Fail } && r.Message.Contains("Ingest:StableFor", StringComparison.Ordinal));
        Assert.True(doctor.ExitCode == SemEdgeCli.ExitFailed, doctor.Output);
        Assert.Contains("Ingest:StableFor is 00:30:00", doctor.Stdout);
    }

    [Fact]
    public async Task Unreachable_external_broker_fails()
    {
        var config = WriteConfig(c => c["Mqtt"] = new JsonObject { ["Mode"] = "external", ["Host"] = "127.0.0.1", ["Port"] = UnusedPort() });

        var results = await RunDoctorAsync(config);

        var line = Assert.Single(results, r => r.Area == "broker");
        Assert.Equal(CheckStatus.Fail, line.Status);
        Assert.Contains("nothing listens on 127.0.0.1:", line.Message);
    }

    [Fact]
    public async Task Missing_drop_folder_fails_and_names_the_setting()
    {
        var config = WriteConfig();
        Directory.Delete(_dir.Combine("var", "drop"));

        var results = await RunDoctorAsync(config);

        Assert.Contains(results, r => r is { Area: "folders", Status: CheckStatus.Fail } && r.Message.StartsWith("Ingest:DropFolder", StringComparison.Ordinal));
        Assert.Equal(4, results.Count(r => r is { Area: "folders", Status: CheckStatus.Pass }));
    }

    [Fact]
    public async Task Missing_config_file_fails()
    {
        var results = await RunDoctorAsync(_dir.Combine("nope.json"));

        var line = Assert.Single(results);
        Assert.Equal(CheckStatus.Fail, line.Status);
        Assert.Contains("does not exist", line.Message);
    }

    [Fact]
    public async Task Vendor_library_that_does_not_load_fails_the_accelerator_check()
    {
        var config = WriteConfig(c =>
        {
            c["Inference"]!["Accelerator"] = "auto";
            c["Inference"]!["AcceleratorRequired"] = false;
            c["Inference"]!["VendorLibraryPath"] = _dir.Combine("no-such-libonnxruntime.so");
        });

        var results = await RunDoctorAsync(config);

        Assert.Contains(results, r => r is { Area: "accelerator", Status: CheckStatus.Fail } && r.Message.Contains("does not load", StringComparison.Ordinal));
    }

    [Fact]
    public void Gpiochip_that_is_missing_fails_and_one_that_opens_read_write_passes()
    {
        var chip = _dir.Combine("gpiochip0");
        File.WriteAllText(chip, "");

        Assert.Equal(CheckStatus.Pass, GpioCheck.DeviceAccess(chip, "Reject line 17").Status);
        Assert.Equal(CheckStatus.Fail, GpioCheck.DeviceAccess(_dir.Combine("gpiochip9"), "Reject line 17").Status);
    }

    [Fact]
    public void Expired_broker_ca_certificate_fails_and_one_expiring_soon_warns()
    {
        var now = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(now);
        var expired = WriteCertificate("expired.pem", now.AddYears(-2), now.AddDays(-1));
        var soon = WriteCertificate("soon.pem", now.AddYears(-1), now.AddDays(10));
        var good = WriteCertificate("good.pem", now.AddYears(-1), now.AddYears(2));

        CheckStatus StatusOf(string ca) => Assert.Single(BrokerCheck.TlsFiles(new MqttTlsOptions { Enabled = true, CaFile = ca }, time)).Status;

        Assert.Equal(CheckStatus.Fail, StatusOf(expired));
        Assert.Equal(CheckStatus.Warn, StatusOf(soon));
        Assert.Equal(CheckStatus.Pass, StatusOf(good));
        Assert.Equal(CheckStatus.Fail, StatusOf(_dir.Combine("missing.pem")));
    }

    public void Dispose() => _dir.Dispose();

    private async Task<IReadOnlyList<CheckResult>> RunDoctorAsync(string config)
    {
        var results = await DoctorCommand.RunAsync(config, TimeProvider.System, CancellationToken.None);
        foreach (var result in results)
        {
            output.WriteLine(result.ToString());
        }

        return results;
    }

    /// <summary>The shipped default config, pointed at temp folders and the fixture model, then edited.</summary>
    private string WriteConfig(Action<JsonObject>? edit = null)
    {
        var models = Directory.CreateDirectory(_dir.Combine("models")).FullName;
        var fixtures = Path.Combine(RepoPaths.Root, "tests", "fixtures", "models");
        foreach (var file in new[] { "classifier.json", "classifier.onnx" })
        {
            File.Copy(Path.Combine(fixtures, file), Path.Combine(models, file), overwrite: true);
        }

        var text = File.ReadAllText(Path.Combine(RepoPaths.Platform, "semedge.json"));
        var config = JsonNode.Parse(text, documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!.AsObject();
        foreach (var folder in new[] { "DropFolder", "ProcessingFolder", "ArchiveFolder", "QuarantineFolder" })
        {
            var path = Directory.CreateDirectory(_dir.Combine("var", folder.Replace("Folder", "", StringComparison.Ordinal).ToLowerInvariant())).FullName;
            config["Ingest"]![folder] = path;
        }

        config["Ingest"]!["ArchiveMinFreeBytes"] = 0;
        config["Outbox"]!["Path"] = Directory.CreateDirectory(_dir.Combine("var", "outbox")).FullName;
        config["Inference"]!["ClassifierManifest"] = Path.Combine(models, "classifier.json");
        SemEdge.Tests.Inference.TestModels.Sign(Path.Combine(models, "classifier.json"));
        config["Inference"]!["TrustedKeys"] = new JsonObject { ["tests"] = SemEdge.Tests.Inference.TestModels.Key.Public.ToBase64() };
        config["Pipeline"]!["UseShippedScreen"] = false;
        // No gpiochip on a build machine: the bench driver (a WARN line, not a FAIL).
        config["Gpio"]!["Driver"] = "simulated";
        edit?.Invoke(config);
        var path2 = _dir.Combine("semedge.json");
        File.WriteAllText(path2, config.ToJsonString());
        return path2;
    }

    private string WriteCertificate(string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=test-broker-ca", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(notBefore, notAfter);
        var path = _dir.Combine(name);
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    private static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A real mosquitto on a free 127.0.0.1 port.</summary>
    private sealed class Mosquitto : IDisposable
    {
        private readonly Process _process;

        private Mosquitto(Process process, int port)
        {
            _process = process;
            Port = port;
        }

        public int Port { get; }

        public static async Task<Mosquitto> StartAsync(string dir)
        {
            Directory.CreateDirectory(dir);
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var port = UnusedPort();
                var conf = Path.Combine(dir, "mosquitto.conf");
                File.WriteAllText(conf, $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
                var process = Process.Start(new ProcessStartInfo("mosquitto", ["-c", conf])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                })!;
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                for (var i = 0; i < 100 && !process.HasExited; i++)
                {
                    try
                    {
                        using var client = new TcpClient();
                        await client.ConnectAsync(IPAddress.Loopback, port);
                        return new Mosquitto(process, port);
                    }
                    catch (SocketException)
                    {
                        await Task.Delay(50);
                    }
                }

                if (!process.HasExited)
                {
                    process.Kill();
                }

                process.Dispose();
            }

            throw new InvalidOperationException("mosquitto did not start");
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}
