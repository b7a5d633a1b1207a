using System.Diagnostics;
using System.Security.Cryptography;
using SemEdge.Ingest;
using SemEdge.Tests.Platform;
using SemEdge.Tests.Publishing;
using Xunit.Abstractions;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// Issue 18 item 2, the documented deployment: the daemon runs as its own unprivileged user, and the SEM's
/// account writes into a setgid 2770 drop folder. Both are real Linux users made here with useradd (CI runs as
/// root; elsewhere the test says why it did nothing). Before the fix the claim's SetLastWriteTimeUtc failed with
/// EPERM on the writer's file and no image ever got a verdict.
/// </summary>
[Collection(DaemonCollection.Name)]
public sealed class DropFromAnotherUserTests(SyntheticImages images, ITestOutputHelper output) : IDisposable
{
    private const string Group = "semedge-e2e";
    private const string DaemonUser = "semedge-e2e-daemon";
    private const string WriterUser = "semedge-e2e-sem";
    private const int Images = 6;

    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Images_written_by_the_SEM_account_get_verdicts_pulses_and_read_only_archive_entries()
    {
        if (!OperatingSystem.IsLinux() || FileStatus.ProcessOwnerId != 0)
        {
            output.WriteLine("not root: cannot create the two users this test needs (CI runs it as root)");
            return;
        }

        EnsureUsers();
        await using var broker = await Mosquitto.StartAsync(_root.Combine("mosquitto"));
        await using var plc = await VerdictSubscriber.ConnectAsync(broker.Port);

        // The daemon's folders belong to the daemon user; the drop folder is setgid 2770 for the writers' group.
        Run("chmod", "0755", _root.Path);
        var root = _root.Combine("daemon");
        var drop = Path.Combine(root, "drop");
        Directory.CreateDirectory(drop);
        Run("chown", "-R", $"{DaemonUser}:{Group}", root);
        Run("chmod", "2770", drop);
        var staging = _root.Combine("sem-staging");
        Directory.CreateDirectory(staging);
        foreach (var file in images.Files.Take(Images))
        {
            File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
        }

        Run("chown", "-R", $"{WriterUser}:{Group}", staging);
        var settings = DaemonUnderTest.Settings(root, DaemonUnderTest.External(broker.Port),
            ["--Decision:Actions:clean=Reject", "--Decision:DefaultMinConfidence=0", "--Logging:LogLevel:SemEdge.Actuation.RejectLines=Information"]);
        await using var daemon = await DaemonProcess.StartAsync(root, settings, runAs: DaemonUser, runAsGroup: Group);
        try
        {
            // The SEM writes each image under a temporary name and renames it, as its own user (umask 007).
            foreach (var file in Directory.GetFiles(staging))
            {
                var name = Path.GetFileName(file);
                Run("setpriv", $"--reuid={WriterUser}", $"--regid={Group}", "--clear-groups", "--",
                    "sh", "-c", $"umask 007 && cp '{file}' '{drop}/.{name}.tmp' && ln '{drop}/.{name}.tmp' '{staging}/{name}.link' && mv '{drop}/.{name}.tmp' '{drop}/{name}'");
            }

            await plc.WaitForImagesAsync(Images, TimeSpan.FromSeconds(120));
            await Eventually.TrueAsync(
                () => Directory.GetFiles(Path.Combine(root, "archive"), "*.png", SearchOption.AllDirectories).Length == Images, "every image archived", 60);
            Assert.Equal(0, await daemon.StopAsync());
        }
        catch
        {
            output.WriteLine(daemon.Output);
            throw;
        }

        Assert.DoesNotContain("Cannot claim", daemon.Output, StringComparison.Ordinal);
        Assert.Equal(Images, plc.Verdicts.Select(v => v.Image).Distinct().Count());
        Assert.All(plc.Verdicts, v => Assert.Equal("reject", v.Action));
        Assert.Equal(Images, daemon.Output.Split('\n').Count(l => l.Contains("reject pulse for", StringComparison.Ordinal)));

        var daemonUid = uint.Parse(Capture("id", "-u", DaemonUser), System.Globalization.CultureInfo.InvariantCulture);
        foreach (var archived in Directory.GetFiles(Path.Combine(root, "archive"), "*.png", SearchOption.AllDirectories))
        {
            Assert.Equal(daemonUid, FileStatus.Of(archived).OwnerId);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.GroupRead, File.GetUnixFileMode(archived));

            // The writer kept a hard link to what it dropped; writing through it must not touch the evidence.
            var before = SHA256.HashData(File.ReadAllBytes(archived));
            var link = Path.Combine(staging, Path.GetFileName(archived) + ".link");
            Run("setpriv", $"--reuid={WriterUser}", $"--regid={Group}", "--clear-groups", "--", "sh", "-c", $"echo tampered >> '{link}'");
            Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(archived)));
            Assert.NotEqual(0, RunStatus("setpriv", $"--reuid={WriterUser}", $"--regid={Group}", "--clear-groups", "--", "sh", "-c", $"echo x >> '{archived}'"));
        }

        Assert.Empty(Directory.GetFiles(Path.Combine(root, "processing")));
        output.WriteLine($"{Images} images written by {WriterUser} into a 2770 drop folder: {Images} verdicts, {Images} reject pulses, {Images} archived 0440 owned by {DaemonUser}");
    }

    private static void EnsureUsers()
    {
        if (RunStatus("getent", "group", Group) != 0)
        {
            Run("groupadd", "--system", Group);
        }

        foreach (var user in new[] { DaemonUser, WriterUser })
        {
            if (RunStatus("id", user) != 0)
            {
                Run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--gid", Group, user);
            }
        }
    }

    private static void Run(string tool, params string[] arguments) =>
        Assert.True(RunStatus(tool, arguments) == 0, $"{tool} {string.Join(' ', arguments)} failed");

    private static int RunStatus(string tool, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        process.WaitForExit();
        return process.ExitCode;
    }

    private static string Capture(string tool, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(tool, arguments) { RedirectStandardOutput = true })!;
        var text = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        return text;
    }
}
