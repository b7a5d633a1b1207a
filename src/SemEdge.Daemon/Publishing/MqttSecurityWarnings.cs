using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SemEdge.Publishing;

/// <summary>The settings holding a secret that arrived on the command line (found when the host was built).</summary>
public sealed record CommandLineSecrets(IReadOnlyList<string> Keys);

/// <summary>Logs <see cref="MqttSecrets.Warnings"/> once at start, before the broker and the publisher start.</summary>
public sealed class MqttSecurityWarnings(IOptions<MqttOptions> options, CommandLineSecrets commandLine, ILogger<MqttSecurityWarnings> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var warning in MqttSecrets.Warnings(options.Value, commandLine.Keys))
        {
            logger.LogWarning("Security: {Warning}", warning);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
