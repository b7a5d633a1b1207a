using System.CommandLine;
using System.Security.Cryptography;
using SemEdge.Inference;
using SemEdge.Signing;

namespace SemEdge.Cli;

/// <summary>
/// <c>semedge keygen</c> and <c>semedge sign-model</c>: Ed25519 keys and detached manifest signatures
/// (<see cref="DetachedSignature"/>). The board only ever holds public keys.
/// </summary>
internal static class SigningCommands
{
    public static Command CreateKeygen()
    {
        var command = new Command("keygen",
            "Make an Ed25519 signing key pair: KEYFILE (private, mode 0600) and KEYFILE.pub. Prints the config line that trusts it.");
        var path = new Argument<string?>("KEYFILE") { Description = "Where to write the private key; the public key goes to KEYFILE.pub.", Arity = ArgumentArity.ZeroOrOne };
        var development = new Option<bool>("--development")
        {
            Description = $"Make (if missing) and show the development key in {DevelopmentKey.Folder}, which scripts/semedge run trusts.",
        };
        command.Arguments.Add(path);
        command.Options.Add(development);
        command.SetAction(parse => Keygen(parse.GetValue(path), parse.GetValue(development), Console.Out, Console.Error));
        return command;
    }

    public static Command CreateSignModel()
    {
        var command = new Command("sign-model",
            "Sign model manifests: writes MANIFEST.sig beside each, after checking the manifest names an existing model file with the sha256 it records.");
        var manifests = new Argument<string[]>("MANIFEST") { Description = "Model manifests (.json).", Arity = ArgumentArity.OneOrMore };
        var key = new Option<string?>("--key")
        {
            Description = $"Private key file (semedge keygen). Default: the development key ({DevelopmentKey.PrivatePath}), made on first use.",
        };
        command.Arguments.Add(manifests);
        command.Options.Add(key);
        command.SetAction(parse => SignModels(parse.GetValue(manifests)!, parse.GetValue(key), Console.Out, Console.Error));
        return command;
    }

    internal static int Keygen(string? path, bool development, TextWriter output, TextWriter error)
    {
        PrivateSigningKey key;
        string written;
        if (development)
        {
            if (path is not null)
            {
                throw new UsageException("give either KEYFILE or --development, not both");
            }

            key = DevelopmentKey.LoadOrCreate(error);
            written = DevelopmentKey.PrivatePath;
        }
        else
        {
            if (path is null)
            {
                throw new UsageException("name the private key file to write (e.g. semedge keygen ~/keys/fab-models.key), or pass --development");
            }

            if (File.Exists(path) || File.Exists(PrivateSigningKey.PublicPathOf(path)))
            {
                error.WriteLine($"semedge keygen: {path} or its .pub already exists; a key is never overwritten");
                return SemEdgeCli.ExitFailed;
            }

            key = PrivateSigningKey.Generate(path);
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
                key.Save(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"semedge keygen: cannot write {path}: {ex.Message}");
                return SemEdgeCli.ExitFailed;
            }

            written = path;
        }

        output.WriteLine($"private key: {written} (keep it off the board and out of any repository)");
        output.WriteLine($"public key:  {PrivateSigningKey.PublicPathOf(written)} (key id {key.Public.Id})");
        output.WriteLine("trust it on a board (semedge.json):");
        output.WriteLine($"  \"Inference\": {{ \"TrustedKeys\": {{ \"{Path.GetFileNameWithoutExtension(written)}\": \"{key.Public.ToBase64()}\" }} }}");
        return SemEdgeCli.ExitOk;
    }

    internal static int SignModels(IReadOnlyList<string> manifests, string? keyPath, TextWriter output, TextWriter error)
    {
        PrivateSigningKey key;
        try
        {
            key = keyPath is null ? DevelopmentKey.LoadOrCreate(error) : PrivateSigningKey.Load(keyPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            error.WriteLine($"semedge sign-model: cannot read the signing key: {ex.Message}");
            return SemEdgeCli.ExitFailed;
        }

        var failed = 0;
        foreach (var manifestPath in manifests)
        {
            if (Problem(manifestPath) is { } problem)
            {
                error.WriteLine($"semedge sign-model: {manifestPath}: {problem}; not signed");
                failed++;
                continue;
            }

            var sig = DetachedSignature.Sign(manifestPath, DetachedSignature.ModelManifestPurpose, key);
            output.WriteLine($"signed {manifestPath} with key {key.Public.Id} -> {sig}");
        }

        return failed == 0 ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed;
    }

    /// <summary>A signature vouches for the model too: never sign a manifest whose model file is missing or differs.</summary>
    private static string? Problem(string manifestPath)
    {
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Load(manifestPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
        {
            return $"not a readable model manifest ({ex.Message})";
        }

        var model = manifest.ResolveModelPath(manifestPath);
        if (!File.Exists(model))
        {
            return $"its model file {model} does not exist";
        }

        using var stream = File.OpenRead(model);
        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        return string.Equals(actual, manifest.Sha256, StringComparison.OrdinalIgnoreCase)
            ? null
            : $"{Path.GetFileName(model)} has sha256 {actual[..12]}…, the manifest records {manifest.Sha256[..Math.Min(12, manifest.Sha256.Length)]}…";
    }
}
