using System.CommandLine;
using SemEdge.Diagnostics;
using SemEdge.Hosting;

namespace SemEdge.Cli;

internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command(
            "doctor",
            "Check this board for the daemon: config, models, accelerator, GPIO, broker, folders, NPU graph cache. " +
            "One PASS/WARN/FAIL line each; exit 1 on any FAIL.");
        var configOption = new Option<FileInfo?>("--config")
        {
            Description = $"Site configuration file (default: $SEMEDGE_CONFIG, else {DaemonHostSettings.DefaultSiteConfig} if it exists).",
        };
        command.Options.Add(configOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var results = await RunAsync(parse.GetValue(configOption)?.FullName, TimeProvider.System, cancellationToken);
            foreach (var result in results)
            {
                Console.WriteLine(result);
            }

            var failed = results.Count(r => r.Status == CheckStatus.Fail);
            var warned = results.Count(r => r.Status == CheckStatus.Warn);
            Console.WriteLine($"doctor: {results.Count - failed - warned} passed, {warned} warning(s), {failed} failed");
            return failed == 0 ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed;
        });
        return command;
    }

    public static async Task<IReadOnlyList<CheckResult>> RunAsync(string? configFile, TimeProvider time, CancellationToken cancellationToken)
    {
        var site = configFile ?? Environment.GetEnvironmentVariable("SEMEDGE_CONFIG");
        if (site is not null && !File.Exists(site))
        {
            return [CheckResult.Fail(ConfigCheck.Area, $"the configuration file {Path.GetFullPath(site)} does not exist")];
        }

        site ??= File.Exists(DaemonHostSettings.DefaultSiteConfig) ? DaemonHostSettings.DefaultSiteConfig : null;
        Microsoft.Extensions.Hosting.IHost host;
        try
        {
            // The daemon's own composition root: the same configuration layers, binding and validators as `run`.
            host = DaemonHost.Build(new DaemonHostSettings { SiteConfig = site });
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            return [CheckResult.Fail(ConfigCheck.Area, $"{site ?? "configuration"} cannot be read: {ex.Message}")];
        }

        using (host)
        {
            return await Doctor.RunAsync(new DoctorContext(host.Services, site), time, cancellationToken);
        }
    }
}
