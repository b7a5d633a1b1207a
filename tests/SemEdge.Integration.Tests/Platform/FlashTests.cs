using Xunit.Abstractions;

namespace SemEdge.Tests.Platform;

/// <summary>scripts/flash against a real sshd on 127.0.0.1 with small fake bundles (see <see cref="SshBoard"/>).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FlashTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Fresh_install_switches_current_installs_the_platform_files_and_passes_health()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");

        var run = await FlashLoggedAsync(board, bundle);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal("releases/1.0.0", new FileInfo(board.BasePath("current")).LinkTarget);
        Assert.True(File.Exists(board.BasePath("releases", "1.0.0", "semedge")));
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Platform, "semedge.service")),
            File.ReadAllText(board.EtcPath("systemd", "system", "semedge.service")));
        Assert.True(File.Exists(board.EtcPath("tmpfiles.d", "semedge.conf")));
        Assert.True(File.Exists(board.EtcPath("udev", "rules.d", "60-semedge-gpio.rules")));
        Assert.Equal(File.ReadAllText(Path.Combine(RepoPaths.Platform, "semedge.json")), File.ReadAllText(board.EtcPath("semedge", "semedge.json")));
        // sysusers and tmpfiles really ran against the board's root.
        Assert.Contains(File.ReadAllLines(board.EtcPath("passwd")), l => l.StartsWith("semedge:", StringComparison.Ordinal));
        Assert.True(Directory.Exists(Path.Combine(board.Root, "var", "lib", "semedge", "drop")));
        var calls = board.SystemctlCalls();
        Assert.Contains("daemon-reload", calls);
        Assert.Contains("restart semedge.service", calls);
        Assert.Contains("enable semedge.service", calls);
        Assert.Contains("semedge doctor passes", run.Stdout);
    }

    [Fact]
    public async Task Upgrade_installs_beside_the_running_release_and_rerun_restarts_nothing()
    {
        await using var board = await SshBoard.StartAsync();
        Assert.Equal(0, (await FlashLoggedAsync(board, await board.MakeBundleAsync("1.0.0"))).ExitCode);
        var v2 = await board.MakeBundleAsync("2.0.0");

        var upgrade = await FlashLoggedAsync(board, v2);

        Assert.True(upgrade.ExitCode == 0, upgrade.Output);
        Assert.Equal("releases/2.0.0", new FileInfo(board.BasePath("current")).LinkTarget);
        Assert.True(Directory.Exists(board.BasePath("releases", "1.0.0")), "the previous release must stay for a rollback");
        Assert.Equal("1.0.0", File.ReadAllText(board.BasePath(".previous")).Trim());

        var restartsBefore = board.SystemctlCalls().Count(c => c.StartsWith("restart", StringComparison.Ordinal));
        var rerun = await FlashLoggedAsync(board, v2);

        Assert.True(rerun.ExitCode == 0, rerun.Output);
        Assert.Contains("not uploaded again", rerun.Stdout);
        Assert.Contains("not restarted", rerun.Stdout);
        Assert.Equal(restartsBefore, board.SystemctlCalls().Count(c => c.StartsWith("restart", StringComparison.Ordinal)));
        Assert.Equal("1.0.0", File.ReadAllText(board.BasePath(".previous")).Trim());
    }

    [Fact]
    public async Task Unhealthy_release_is_rolled_back_to_the_previous_one_and_the_failing_step_is_named()
    {
        await using var board = await SshBoard.StartAsync();
        Assert.Equal(0, (await FlashLoggedAsync(board, await board.MakeBundleAsync("1.0.0"))).ExitCode);
        var broken = await board.MakeBundleAsync("2.0.0", doctorPasses: false);

        var run = await FlashLoggedAsync(board, broken);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at step 'health'", run.Stderr);
        Assert.Contains("fake bundle 2.0.0 is broken", run.Stdout);
        Assert.Contains("[rollback]", run.Stdout);
        Assert.Equal("releases/1.0.0", new FileInfo(board.BasePath("current")).LinkTarget);
        // Restarted into 2.0.0, then again into 1.0.0.
        Assert.True(board.SystemctlCalls().Count(c => c == "restart semedge.service") >= 3);
    }

    [Fact]
    public async Task Unit_that_fails_to_start_is_rolled_back()
    {
        await using var board = await SshBoard.StartAsync();
        Assert.Equal(0, (await FlashLoggedAsync(board, await board.MakeBundleAsync("1.0.0"))).ExitCode);
        board.SetUnitState("failed");

        var run = await FlashLoggedAsync(board, await board.MakeBundleAsync("2.0.0"));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("semedge.service is 'failed'", run.Stderr);
        Assert.Equal("releases/1.0.0", new FileInfo(board.BasePath("current")).LinkTarget);
    }

    [Fact]
    public async Task Technicians_edited_config_is_kept_and_the_new_default_lands_beside_it_with_a_diff()
    {
        await using var board = await SshBoard.StartAsync();
        Assert.Equal(0, (await FlashLoggedAsync(board, await board.MakeBundleAsync("1.0.0"))).ExitCode);
        var config = board.EtcPath("semedge", "semedge.json");
        var edited = File.ReadAllText(config).Replace("\"NodeId\": \"semedge-1\"", "\"NodeId\": \"line-7\"", StringComparison.Ordinal);
        Assert.Contains("line-7", edited);
        File.WriteAllText(config, edited);
        var v2 = await board.MakeBundleAsync("2.0.0", editPlatform: platform =>
        {
            var json = Path.Combine(platform, "semedge.json");
            File.WriteAllText(json, File.ReadAllText(json).Replace("\"TopicPrefix\": \"semedge\"", "\"TopicPrefix\": \"fab2\"", StringComparison.Ordinal));
        });

        var run = await FlashLoggedAsync(board, v2);

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Equal(edited, File.ReadAllText(config));
        Assert.Contains("\"TopicPrefix\": \"fab2\"", File.ReadAllText(config + ".new"));
        // The diff shows the shipped change, not the site's own edit.
        Assert.Contains("+    \"TopicPrefix\": \"fab2\"", run.Stdout);
        Assert.DoesNotContain("line-7", run.Stdout);
    }

    [Fact]
    public async Task Dry_run_reports_the_plan_and_changes_nothing()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");

        var run = await FlashLoggedAsync(board, bundle, "--dry-run");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("would write /etc/systemd/system/semedge.service", run.Stdout);
        Assert.Contains("nothing was changed", run.Stdout);
        Assert.False(Directory.Exists(board.BasePath()));
        Assert.False(File.Exists(board.EtcPath("systemd", "system", "semedge.service")));
        Assert.Empty(board.SystemctlCalls());
    }

    [Fact]
    public async Task Preflight_refuses_a_board_that_is_not_aarch64()
    {
        await using var board = await SshBoard.StartAsync(allowArch: null);
        var bundle = await board.MakeBundleAsync("1.0.0");

        await AssertPreflightRefusesAsync(board, bundle, "this bundle is for aarch64");
    }

    [Fact]
    public async Task Preflight_refuses_a_board_without_openssl()
    {
        await using var board = await SshBoard.StartAsync();
        File.Delete(Path.Combine(board.Root, "usr", "lib", "aarch64-linux-gnu", "libssl.so.3"));
        var bundle = await board.MakeBundleAsync("1.0.0");

        await AssertPreflightRefusesAsync(board, bundle, "OpenSSL (libssl.so.3 or libssl.so.1.1) is not installed");
    }

    /// <summary>Flash stops at the preflight with <paramref name="reason"/> and leaves the board untouched.</summary>
    private async Task AssertPreflightRefusesAsync(SshBoard board, string bundle, string reason)
    {
        var run = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at step 'preflight'", run.Stderr);
        Assert.Contains(reason, run.Stderr);
        Assert.False(Directory.Exists(board.BasePath()));
    }

    [Fact]
    public async Task Corrupt_bundle_is_refused_before_anything_is_sent()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");
        await using (var stream = File.OpenWrite(bundle))
        {
            stream.Seek(-10, SeekOrigin.End);
            stream.WriteByte(0x42);
        }

        var run = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at step 'bundle'", run.Stderr);
        Assert.False(Directory.Exists(board.BasePath()));
    }

    [Fact]
    public async Task Tarball_swapped_together_with_its_sha256_is_refused_by_its_signature()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");
        // An attacker's tarball put in its place, with a .sha256 that matches it; they cannot sign it, so the
        // genuine bundle's .sig stays beside it.
        var forged = await board.MakeBundleAsync("6.6.6", doctorPasses: false);
        File.Copy(forged, bundle, overwrite: true);
        await File.WriteAllTextAsync(bundle + ".sha256", $"{await FileHash.Sha256HexAsync(bundle)}  {Path.GetFileName(bundle)}\n");

        var run = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at step 'bundle'", run.Stderr);
        Assert.Contains("does not match its signature", run.Stderr);
        Assert.False(Directory.Exists(board.BasePath()));
    }

    [Fact]
    public async Task Unsigned_bundle_and_one_signed_by_an_untrusted_key_are_refused()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");
        File.Move(bundle + ".sig", bundle + ".sig.kept");

        var unsigned = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, unsigned.ExitCode);
        Assert.Contains("the bundle is not signed", unsigned.Stderr);

        // Signed, but by a key nobody told flash to trust.
        SemEdge.Signing.DetachedSignature.Sign(bundle, SemEdge.Signing.DetachedSignature.BundlePurpose, SemEdge.Signing.PrivateSigningKey.Generate("stranger"));
        var stranger = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, stranger.ExitCode);
        Assert.Contains("which is not trusted here", stranger.Stderr);
        Assert.False(Directory.Exists(board.BasePath()));

        File.Move(bundle + ".sig.kept", bundle + ".sig", overwrite: true);
        var genuine = await FlashLoggedAsync(board, bundle, "--dry-run");
        Assert.True(genuine.ExitCode == 0, genuine.Output);
        Assert.Contains("signature: good", genuine.Stdout);
    }

    [Fact]
    public async Task Host_key_mismatch_is_named_as_a_host_key_failure_and_nothing_is_sent()
    {
        await using var board = await SshBoard.StartAsync();
        var bundle = await board.MakeBundleAsync("1.0.0");
        // known_hosts says the board has another host key: what a man in the middle (or a re-installed board) looks like.
        var other = Path.Combine(board.Bundles, "other_host_key");
        var keygen = await ToolRun.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other], TimeSpan.FromSeconds(30));
        Assert.True(keygen.ExitCode == 0, keygen.Output);
        var publicKey = File.ReadAllText(other + ".pub").Split(' ');
        File.WriteAllText(board.KnownHosts, $"[127.0.0.1]:{board.Port} {publicKey[0]} {publicKey[1]}\n");

        var run = await FlashLoggedAsync(board, bundle);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("FAILED at step 'connect'", run.Stderr);
        Assert.Contains("ssh host key check failed", run.Stderr);
        Assert.DoesNotContain("does not meet the bundle's needs", run.Stderr);
        Assert.False(Directory.Exists(board.BasePath()));
    }

    private async Task<ToolRun> FlashLoggedAsync(SshBoard board, string bundle, params string[] extra)
    {
        var run = await board.FlashAsync(bundle, extra);
        output.WriteLine($"$ scripts/flash {Path.GetFileName(bundle)} {string.Join(' ', extra)} -> {run.ExitCode}");
        output.WriteLine(run.Output);
        return run;
    }
}
