using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;

namespace SemEdge.Tests.Platform;

/// <summary>
/// A stand-in board for scripts/flash: a real OpenSSH sshd on a free 127.0.0.1 port with throwaway keys, whose
/// sessions see SEMEDGE_TARGET_ROOT (a temp folder for /opt, /etc, /var), the test-only architecture override
/// and a recording <c>systemctl</c> first on PATH. The unit's state is whatever the test writes.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SshBoard : IAsyncDisposable
{
    private readonly TempFolder _dir = new("semedge-flash-");
    private Process? _sshd;

    public string Root => _dir.Combine("root");

    public string SystemctlLog => _dir.Combine("systemctl.log");

    public string Bundles => _dir.Combine("bundles");

    public int Port { get; private set; }

    public string ClientKey => _dir.Combine("client_key");

    public string Target => $"{Environment.UserName}@127.0.0.1";

    public string BasePath(params string[] parts) => Path.Combine([Root, "opt", "semedge", .. parts]);

    public string EtcPath(params string[] parts) => Path.Combine([Root, "etc", .. parts]);

    public static async Task<SshBoard> StartAsync(string? allowArch = "auto")
    {
        var board = new SshBoard();
        await board.StartCoreAsync(allowArch);
        return board;
    }

    /// <summary>What <c>systemctl is-active semedge</c> answers from now on.</summary>
    public void SetUnitState(string state) => File.WriteAllText(_dir.Combine("unit-state"), state + "\n");

    public string[] SystemctlCalls() => File.Exists(SystemctlLog) ? File.ReadAllLines(SystemctlLog) : [];

    private async Task StartCoreAsync(string? allowArch)
    {
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(Bundles);
        var bin = Directory.CreateDirectory(_dir.Combine("bin")).FullName;
        foreach (var key in new[] { "host_key", "client_key" })
        {
            var keygen = await ToolRun.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", _dir.Combine(key)], TimeSpan.FromSeconds(30));
            Assert.True(keygen.ExitCode == 0, keygen.Output);
        }

        File.Copy(_dir.Combine("client_key.pub"), _dir.Combine("authorized_keys"));
        SetUnitState("active");
        WriteExecutable(Path.Combine(bin, "systemctl"), $"""
            #!/bin/sh
            # Test stand-in for systemctl: records each call; is-active answers what the test put in unit-state.
            echo "$*" >> '{SystemctlLog}'
            case "$1" in
              is-active) state=$(cat '{_dir.Combine("unit-state")}'); echo "$state"; [ "$state" = active ] ;;
              *) exit 0 ;;
            esac
            """);

        // The board's libraries as the preflight looks for them (it searches the target root's lib folders).
        var lib = Directory.CreateDirectory(Path.Combine(Root, "usr", "lib", "aarch64-linux-gnu")).FullName;
        foreach (var so in new[] { "libc.so.6", "libstdc++.so.6", "libgpiod.so.2", "libssl.so.3" })
        {
            File.WriteAllText(Path.Combine(lib, so), "");
        }

        var arch = allowArch == "auto" ? (await ToolRun.RunAsync("uname", ["-m"], TimeSpan.FromSeconds(10))).Stdout.Trim() : allowArch;
        var setEnv = $"PATH={bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SEMEDGE_TARGET_ROOT={Root}";
        if (!string.IsNullOrEmpty(arch))
        {
            setEnv += $" SEMEDGE_FLASH_ALLOW_ARCH={arch}";
        }

        var config = _dir.Combine("sshd_config");
        File.WriteAllText(config, $"""
            ListenAddress 127.0.0.1
            HostKey {_dir.Combine("host_key")}
            AuthorizedKeysFile {_dir.Combine("authorized_keys")}
            StrictModes no
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            PidFile {_dir.Combine("sshd.pid")}
            SetEnv {setEnv}
            LogLevel ERROR

            """);
        // Debian's sshd refuses to start without its privilege separation folder.
        Directory.CreateDirectory("/run/sshd");

        for (var attempt = 0; attempt < 5 && _sshd is null; attempt++)
        {
            Port = FreePort();
            var sshd = Process.Start(new ProcessStartInfo("/usr/sbin/sshd", ["-D", "-e", "-f", config, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            sshd.ErrorDataReceived += (_, _) => { };
            sshd.BeginErrorReadLine();
            sshd.BeginOutputReadLine();
            if (await AcceptsConnectionsAsync(Port, sshd))
            {
                _sshd = sshd;
            }
            else
            {
                // Another test took the port between the probe and sshd's bind: try another one.
                if (!sshd.HasExited)
                {
                    sshd.Kill();
                }

                await sshd.WaitForExitAsync();
                sshd.Dispose();
            }
        }

        Assert.NotNull(_sshd);
    }

    /// <summary>The public half of the key test bundles are signed with, which flash is told to trust.</summary>
    public string BundleKey => _dir.Combine("bundle-signing.pub");

    /// <summary>The known_hosts file flash's ssh reads (filled on first contact).</summary>
    public string KnownHosts => _dir.Combine("known_hosts");

    /// <summary>Runs scripts/flash against this board.</summary>
    public Task<ToolRun> FlashAsync(string bundle, params string[] extra)
    {
        File.WriteAllText(BundleKey, SemEdge.Tests.Inference.TestModels.Key.Public.ToPem());
        return ToolRun.RunAsync(
            Path.Combine(RepoPaths.Scripts, "flash"),
            [Target, "--bundle", bundle, "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--identity", ClientKey, "--health-timeout", "10",
                "--trusted-key", BundleKey, .. extra],
            TimeSpan.FromMinutes(2),
            environment: new Dictionary<string, string?>
            {
                ["SEMEDGE_FLASH_SSH_OPTIONS"] = $"-o UserKnownHostsFile={KnownHosts} -o StrictHostKeyChecking=accept-new",
                // Only the keys a test names (and the checkout's release key) are trusted, never a developer's own.
                ["SEMEDGE_KEY_DIR"] = _dir.Combine("no-development-key"),
            });
    }

    /// <summary>
    /// A small bundle shaped like scripts/publish's (VERSION, REQUIRES, MANIFEST, platform/ from the checkout),
    /// whose <c>semedge</c> is a script: <c>semedge doctor</c> passes or fails as asked.
    /// </summary>
    public async Task<string> MakeBundleAsync(string version, bool doctorPasses = true, Action<string>? editPlatform = null)
    {
        var name = $"semedge-{version}-linux-arm64";
        var stage = Directory.CreateDirectory(Path.Combine(Bundles, "stage", name)).FullName;
        WriteExecutable(Path.Combine(stage, "semedge"), $"""
            #!/bin/sh
            if [ "$1" = doctor ]; then
              {(doctorPasses ? "echo 'PASS  config  fake bundle " + version + "'; exit 0" : "echo 'FAIL  models  fake bundle " + version + " is broken'; exit 1")}
            fi
            echo {version}

            """);
        File.WriteAllText(Path.Combine(stage, "VERSION"), version + "\n");
        File.WriteAllText(Path.Combine(stage, "REQUIRES"), "glibc=2.17\nglibcxx=3.4.22\nneeded=ld-linux-aarch64.so.1 libc.so.6 libstdc++.so.6\n");
        DirectoryTree.Copy(RepoPaths.Platform, Path.Combine(stage, "platform"));
        editPlatform?.Invoke(Path.Combine(stage, "platform"));

        var lines = new List<string>();
        foreach (var file in Directory.EnumerateFiles(stage, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var hash = await FileHash.Sha256HexAsync(file);
            lines.Add($"{hash}  {new FileInfo(file).Length}  {Path.GetRelativePath(stage, file)}");
        }

        await File.WriteAllLinesAsync(Path.Combine(stage, "MANIFEST"), lines);
        var tarball = Path.Combine(Bundles, name + ".tar.gz");
        await using (var gz = new GZipStream(File.Create(tarball), CompressionLevel.Fastest))
        {
            await TarFile.CreateFromDirectoryAsync(stage, gz, includeBaseDirectory: true);
        }

        var sha = await FileHash.Sha256HexAsync(tarball);
        await File.WriteAllTextAsync(tarball + ".sha256", $"{sha}  {Path.GetFileName(tarball)}\n");
        // Signed as scripts/publish signs (same statement, same .sig format), with the test run's key.
        SemEdge.Signing.DetachedSignature.Sign(tarball, SemEdge.Signing.DetachedSignature.BundlePurpose, SemEdge.Tests.Inference.TestModels.Key);
        return tarball;
    }

    public async ValueTask DisposeAsync()
    {
        if (_sshd is not null)
        {
            if (!_sshd.HasExited)
            {
                _sshd.Kill(entireProcessTree: true);
            }

            await _sshd.WaitForExitAsync();
            _sshd.Dispose();
        }

        _dir.Dispose();
    }

    private static void WriteExecutable(string path, string text)
    {
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> AcceptsConnectionsAsync(int port, Process sshd)
    {
        for (var i = 0; i < 100; i++)
        {
            if (sshd.HasExited)
            {
                return false;
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        return false;
    }
}
