using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace SemEdge.Tests.Platform;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class SystemdUnitTests(ITestOutputHelper output)
{
    private const double MaxExposure = 2.5;
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);
    private static string UnitFile => Path.Combine(RepoPaths.Platform, "semedge.service");

    [Fact]
    public async Task Unit_passes_systemd_analyze_verify_without_any_warning()
    {
        // verify checks that ExecStart exists and that the units it orders against are known, so it runs on a
        // throwaway root holding the host's stock units, the unit and a stand-in binary at the release path.
        using var root = new TempFolder();
        Directory.CreateDirectory(root.Combine("usr", "lib", "systemd"));
        DirectoryTree.Copy("/lib/systemd/system", root.Combine("usr", "lib", "systemd", "system"), keepLinks: true);
        var unitDir = Directory.CreateDirectory(root.Combine("etc", "systemd", "system")).FullName;
        File.Copy(UnitFile, Path.Combine(unitDir, "semedge.service"));
        var binary = root.Combine("opt", "semedge", "current", "semedge");
        Directory.CreateDirectory(Path.GetDirectoryName(binary)!);
        File.WriteAllText(binary, "#!/bin/sh\n");
        File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var run = await ToolRun.RunAsync(
            "systemd-analyze", ["verify", $"--root={root.Path}", Path.Combine(unitDir, "semedge.service")], ToolTimeout);

        output.WriteLine(run.Output);
        Assert.Equal(0, run.ExitCode);
        // verify exits 0 on unknown keys and bad values; it only says so on stderr.
        Assert.Equal(string.Empty, run.Stderr.Trim());
    }

    [Fact]
    public async Task Unit_exposure_from_systemd_analyze_security_is_at_most_2_5()
    {
        var run = await ToolRun.RunAsync(
            "systemd-analyze", ["security", "--offline=true", "--no-pager", UnitFile], ToolTimeout);

        var match = ExposureLine().Match(run.Output);
        Assert.True(match.Success, $"no exposure figure in:\n{run.Output}");
        var exposure = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        output.WriteLine($"systemd-analyze security exposure for semedge.service: {exposure:0.0} (limit {MaxExposure})");
        foreach (var line in run.Output.Split('\n').Where(l => l.StartsWith('✗')))
        {
            output.WriteLine(line.TrimEnd());
        }

        Assert.True(exposure <= MaxExposure, $"exposure {exposure} is above {MaxExposure}");
    }

    [Fact]
    public void Unit_keeps_what_the_dotnet_runtime_and_the_board_need()
    {
        var settings = File.ReadAllLines(UnitFile)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.Contains('='))
            .Select(l => (Key: l[..l.IndexOf('=')], Value: l[(l.IndexOf('=') + 1)..]))
            .ToList();
        string Single(string key) => Assert.Single(settings, s => s.Key == key).Value;

        // The JIT needs pages that are writable then executable: W^X denial would kill the daemon at start.
        Assert.DoesNotContain(settings, s => s.Key == "MemoryDenyWriteExecute");
        // udev hands the gpiochips to a group; a DynamicUser's uid cannot be a stable member of it.
        Assert.DoesNotContain(settings, s => s.Key == "DynamicUser" && s.Value == "yes");
        Assert.Equal("notify", Single("Type"));
        Assert.Equal("main", Single("NotifyAccess"));
        Assert.Equal("/opt/semedge/current/semedge", Single("ExecStart").Split(' ')[0]);
        Assert.Equal("run", Single("ExecStart").Split(' ')[1]);
        Assert.Contains("gpio", Single("SupplementaryGroups").Split(' '));
        Assert.Contains(settings, s => s.Key == "DeviceAllow" && s.Value.StartsWith("char-gpiochip", StringComparison.Ordinal));
        Assert.Contains(settings, s => s.Key == "DeviceAllow" && s.Value.StartsWith("/dev/galcore", StringComparison.Ordinal));
        // The first NPU graph compile takes 40 s and more.
        var startTimeout = int.Parse(Single("TimeoutStartSec"), CultureInfo.InvariantCulture);
        Assert.True(startTimeout >= 60, $"TimeoutStartSec={startTimeout} is too short for the first NPU compile");
    }

    [Fact]
    public async Task Sysusers_and_tmpfiles_create_the_daemon_folders_owned_by_semedge()
    {
        using var root = new TempFolder();
        InstallUsersAndFolders(root);

        var users = await ToolRun.RunAsync("systemd-sysusers", [$"--root={root.Path}"], ToolTimeout);
        output.WriteLine(users.Output);
        Assert.Equal(0, users.ExitCode);
        var passwd = File.ReadAllLines(root.Combine("etc", "passwd")).Select(l => l.Split(':')).Single(f => f[0] == "semedge");
        var groups = File.ReadAllLines(root.Combine("etc", "group")).Select(l => l.Split(':')).ToDictionary(f => f[0]);
        Assert.Equal("/usr/sbin/nologin", passwd[6]);
        Assert.Contains("semedge", groups["gpio"][3].Split(','));
        Assert.Contains("semedge", groups["video"][3].Split(','));

        var create = await ToolRun.RunAsync("systemd-tmpfiles", ["--create", $"--root={root.Path}"], ToolTimeout);
        output.WriteLine(create.Output);
        Assert.Equal(0, create.ExitCode);

        var uid = int.Parse(passwd[2], CultureInfo.InvariantCulture);
        foreach (var folder in new[] { "drop", "archive", "quarantine", "outbox" })
        {
            var path = root.Combine("var", "lib", "semedge", folder);
            Assert.True(Directory.Exists(path), $"{path} was not created");
            Assert.Equal(uid, await OwnerOfAsync(path));
            Assert.False(File.GetUnixFileMode(path).HasFlag(UnixFileMode.OtherRead), $"{folder} is world-readable");
        }

        Assert.True(Directory.Exists(root.Combine("var", "cache", "semedge", "npu")));
        // The SEM's share writes as another user: setgid keeps new images in the drop group, which the daemon is in.
        Assert.True(File.GetUnixFileMode(root.Combine("var", "lib", "semedge", "drop")).HasFlag(UnixFileMode.SetGroup));
    }

    [Fact]
    public async Task The_writer_group_can_write_the_drop_folder_and_nothing_else()
    {
        using var root = new TempFolder();
        InstallUsersAndFolders(root);
        Assert.Equal(0, (await ToolRun.RunAsync("systemd-sysusers", [$"--root={root.Path}"], ToolTimeout)).ExitCode);
        Assert.Equal(0, (await ToolRun.RunAsync("systemd-tmpfiles", ["--create", $"--root={root.Path}"], ToolTimeout)).ExitCode);
        var groups = File.ReadAllLines(root.Combine("etc", "group")).Select(l => l.Split(':')).ToDictionary(f => f[0]);
        var drop = int.Parse(groups["semedge-drop"][2], CultureInfo.InvariantCulture);
        var daemon = int.Parse(groups["semedge"][2], CultureInfo.InvariantCulture);

        // The daemon reads what the writers drop; group semedge (which reads /etc/semedge) has no other member.
        Assert.Contains("semedge", groups["semedge-drop"][3].Split(','));
        Assert.Equal(string.Empty, groups["semedge"][3]);
        Assert.Contains("semedge-drop", Setting("SupplementaryGroups").Split(' '));
        Assert.Equal(drop, await GroupOfAsync(root.Combine("var", "lib", "semedge", "drop")));
        var dropMode = File.GetUnixFileMode(root.Combine("var", "lib", "semedge", "drop"));
        Assert.True(dropMode.HasFlag(UnixFileMode.GroupWrite) && !dropMode.HasFlag(UnixFileMode.OtherRead) && !dropMode.HasFlag(UnixFileMode.OtherExecute));
        foreach (var folder in new[] { "processing", "archive", "quarantine", "outbox" })
        {
            var path = root.Combine("var", "lib", "semedge", folder);
            Assert.Equal(daemon, await GroupOfAsync(path));
            Assert.False(File.GetUnixFileMode(path).HasFlag(UnixFileMode.GroupWrite), $"{folder} is group-writable");
        }

        // Others may cross /var/lib/semedge to reach drop/, never list it; the unit keeps the same mode.
        var state = File.GetUnixFileMode(root.Combine("var", "lib", "semedge"));
        Assert.True(state.HasFlag(UnixFileMode.OtherExecute) && !state.HasFlag(UnixFileMode.OtherRead) && !state.HasFlag(UnixFileMode.GroupWrite));
        Assert.Equal("0711", Setting("StateDirectoryMode"));
        Assert.Equal(daemon, await GroupOfAsync(root.Combine("etc", "semedge")));
        Assert.False(File.GetUnixFileMode(root.Combine("etc", "semedge")).HasFlag(UnixFileMode.OtherExecute));
    }

    /// <summary>The shipped sysusers.d and tmpfiles.d files, where flash puts them, under a throwaway root.</summary>
    private static void InstallUsersAndFolders(TempFolder root)
    {
        foreach (var kind in new[] { "sysusers.d", "tmpfiles.d" })
        {
            var folder = Directory.CreateDirectory(root.Combine("etc", kind)).FullName;
            File.Copy(Path.Combine(RepoPaths.Platform, kind, "semedge.conf"), Path.Combine(folder, "semedge.conf"));
        }
    }

    private static string Setting(string key) =>
        Assert.Single(File.ReadAllLines(UnitFile).Select(l => l.Trim()), l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

    private static async Task<int> GroupOfAsync(string path)
    {
        var stat = await ToolRun.RunAsync("stat", ["-c", "%g", path], ToolTimeout);
        Assert.Equal(0, stat.ExitCode);
        return int.Parse(stat.Stdout.Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<int> OwnerOfAsync(string path)
    {
        var stat = await ToolRun.RunAsync("stat", ["-c", "%u", path], ToolTimeout);
        Assert.Equal(0, stat.ExitCode);
        return int.Parse(stat.Stdout.Trim(), CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"Overall exposure level for \S+: ([0-9]+\.[0-9]+)")]
    private static partial Regex ExposureLine();
}
