using SemEdge.Cli;
using SemEdge.Inference;
using SemEdge.Signing;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Inference;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ModelSigningTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Signed_manifest_verifies_and_any_change_to_it_or_another_key_or_purpose_is_refused()
    {
        var manifest = TestModels.SignedCopy(Fixtures.Classifier, _dir.Path);
        var trusted = new[] { TestModels.Key.Public };

        Assert.Equal(TestModels.Key.Public.Id, ModelTrust.Check(manifest, trusted, allowUnsigned: false).SignedBy!.Id);

        var stranger = PrivateSigningKey.Generate("stranger");
        var untrusted = Assert.Throws<ModelLoadException>(() => ModelTrust.Check(manifest, [stranger.Public], allowUnsigned: false));
        Assert.Contains($"signed by key {TestModels.Key.Public.Id}, which is not trusted", untrusted.Message);

        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"bridge\"", "\"clean \"", StringComparison.Ordinal));
        var changed = Assert.Throws<ModelLoadException>(() => ModelTrust.Check(manifest, trusted, allowUnsigned: false));
        Assert.Contains("does not match its bytes", changed.Message);

        // A bundle's signature never passes for a manifest's, even over the same bytes by the same key.
        DetachedSignature.Sign(manifest, DetachedSignature.BundlePurpose, TestModels.Key);
        Assert.Throws<ModelLoadException>(() => ModelTrust.Check(manifest, trusted, allowUnsigned: false));

        File.Delete(DetachedSignature.PathFor(manifest));
        var unsigned = ModelTrust.Check(manifest, trusted, allowUnsigned: true);
        Assert.Null(unsigned.SignedBy);
        Assert.Contains("is not signed", unsigned.Refusal);
    }

    [Fact]
    public async Task Keys_made_by_openssl_sign_for_semedge_and_semedge_keys_sign_for_openssl()
    {
        var opensslKey = _dir.Combine("openssl.key");
        Assert.Equal(0, (await ToolRun.RunAsync("openssl", ["genpkey", "-algorithm", "ed25519", "-out", opensslKey], TimeSpan.FromSeconds(30))).ExitCode);
        var pub = await ToolRun.RunAsync("openssl", ["pkey", "-in", opensslKey, "-pubout"], TimeSpan.FromSeconds(30));
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, _dir.Path);
        Assert.Equal(SemEdgeCli.ExitOk, SigningCommands.SignModels([manifest], opensslKey, TextWriter.Null, TextWriter.Null));
        Assert.NotNull(ModelTrust.Check(manifest, [PublicSigningKey.Parse(pub.Stdout, "openssl")], allowUnsigned: false).SignedBy);

        // The other way round: a key from `semedge keygen` read by openssl, as scripts/publish does.
        var semedgeKey = _dir.Combine("semedge.key");
        Assert.Equal(SemEdgeCli.ExitOk, SigningCommands.Keygen(semedgeKey, development: false, TextWriter.Null, TextWriter.Null));
        var fromOpenssl = await ToolRun.RunAsync("openssl", ["pkey", "-in", semedgeKey, "-pubout"], TimeSpan.FromSeconds(30));
        Assert.True(fromOpenssl.ExitCode == 0, fromOpenssl.Output);
        Assert.Equal(File.ReadAllText(semedgeKey + ".pub").Trim(), fromOpenssl.Stdout.Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(semedgeKey));
        Assert.Equal(SemEdgeCli.ExitFailed, SigningCommands.Keygen(semedgeKey, development: false, TextWriter.Null, TextWriter.Null));
    }

    [Fact]
    public void A_trusted_key_that_is_not_an_ed25519_public_key_stops_the_start_and_an_empty_one_withdraws_trust()
    {
        var site = _dir.Combine("site.json");
        File.WriteAllText(site, "{}");
        foreach (var bad in new[] { "AAAA", "not base64!", Convert.ToBase64String(new byte[44]) })
        {
            using var host = SemEdge.Hosting.DaemonHost.Build(new SemEdge.Hosting.DaemonHostSettings
            {
                SiteConfig = site,
                ReadEnvironment = false,
                Overrides = [$"--Inference:TrustedKeys:fab={bad}"],
            });

            Assert.Contains(SemEdge.Hosting.DaemonHost.CheckSettings(host.Services),
                p => p.StartsWith("Inference:TrustedKeys:fab is not an Ed25519 public key", StringComparison.Ordinal));
        }

        var options = new InferenceOptions { TrustedKeys = { ["semedge-release"] = "", ["tests"] = TestModels.Key.Public.ToBase64() } };
        Assert.Equal(["tests"], options.ParseTrustedKeys().Select(k => k.Name));
    }

    [Fact]
    public void Sign_model_refuses_a_manifest_whose_model_file_does_not_match()
    {
        var manifest = Fixtures.CopyModel(Fixtures.Classifier, _dir.Path);
        File.AppendAllText(Path.ChangeExtension(manifest, ".onnx"), "x");
        var key = _dir.Combine("signing.key");
        Assert.Equal(SemEdgeCli.ExitOk, SigningCommands.Keygen(key, development: false, TextWriter.Null, TextWriter.Null));
        var error = new StringWriter();

        Assert.Equal(SemEdgeCli.ExitFailed, SigningCommands.SignModels([manifest], key, TextWriter.Null, error));

        Assert.Contains("not signed", error.ToString());
        Assert.False(File.Exists(DetachedSignature.PathFor(manifest)));
    }

    [Fact]
    public void Shipped_models_are_signed_by_the_release_key_the_default_config_trusts()
    {
        var appsettings = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "src", "SemEdge.Daemon", "appsettings.json")));
        var release = PublicSigningKey.Parse(
            appsettings.RootElement.GetProperty("Inference").GetProperty("TrustedKeys").GetProperty("semedge-release").GetString()!, "semedge-release");
        Assert.Equal(release.ToPem().Trim(), File.ReadAllText(Path.Combine(RepoPaths.Root, "keys", "semedge-release.pub")).Trim());

        var shipped = Path.Combine(RepoPaths.Root, "models");
        foreach (var manifest in new[] { ShippedModels.ClassifierFile, ShippedModels.ScreenFile })
        {
            // Fails when the shipped models were rebuilt and not re-signed: scripts/semedge sign-model models/*.int8.json --key RELEASE_KEY
            Assert.Equal(release.Id, ModelTrust.Check(Path.Combine(shipped, manifest), [release], allowUnsigned: false).SignedBy!.Id);
        }
    }
}
