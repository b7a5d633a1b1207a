using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SemEdge.Hosting;
using SemEdge.Pipeline;

namespace SemEdge.Cli;

internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command(
            "run",
            "Run the inspection daemon: watch the drop folder, inspect each image, pulse the reject line, publish verdicts. " +
            "Any setting can be given as --Section:Key=value, e.g. --Ingest:DropFolder=/data/drop.")
        {
            // The --Section:Key=value settings are not options of this command; they go to the configuration.
            TreatUnmatchedTokensAsErrors = false,
        };
        var configOption = new Option<FileInfo?>("--config")
        {
            Description = $"Site configuration file (default: $SEMEDGE_CONFIG, else {DaemonHostSettings.DefaultSiteConfig} if it exists).",
        };
        command.Options.Add(configOption);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = parse.UnmatchedTokens.ToList();
            foreach (var token in overrides)
            {
                if (!token.StartsWith("--", StringComparison.Ordinal) || !token.Contains(':', StringComparison.Ordinal) || !token.Contains('=', StringComparison.Ordinal))
                {
                    throw new UsageException($"run: unexpected argument '{token}'; settings are given as --Section:Key=value");
                }
            }

            var config = parse.GetValue(configOption);
            if (config is not null && !config.Exists)
            {
                throw new UsageException($"run: the configuration file {config.FullName} does not exist");
            }

            return await RunAsync(new DaemonHostSettings { SiteConfig = config?.FullName, Overrides = overrides }, cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(DaemonHostSettings settings, CancellationToken cancellationToken)
    {
        IHost host;
        try
        {
            host = DaemonHost.Build(settings);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException)
        {
            Console.Error.WriteLine($"semedge run: cannot read the configuration: {ex.Message}");
            return SemEdgeCli.ExitUsage;
        }

        using (host)
        {
            var problems = DaemonHost.CheckSettings(host.Services);
            if (problems.Count > 0)
            {
                foreach (var problem in problems)
                {
                    Console.Error.WriteLine($"semedge run: configuration error: {problem}");
                }

                return SemEdgeCli.ExitUsage;
            }

            // RunAsync disposes the service provider when it returns: take what is read afterwards now.
            var exit = host.Services.GetRequiredService<DaemonExit>();
            try
            {
                await host.RunAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C while starting.
            }

            return exit.Failure is null ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed;
        }
    }
}
