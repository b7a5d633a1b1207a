using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SemEdge.Telemetry;

namespace SemEdge.Publishing;

/// <summary>Composition-root entry for the MQTT side: <c>services.AddPublishing(configuration)</c>.</summary>
public static class PublishingServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="MqttOptions"/> (section "Mqtt") and <see cref="OutboxOptions"/> (section "Outbox"),
    /// both validated at start; the <see cref="VerdictOutbox"/> singleton; the <see cref="EmbeddedBroker"/>
    /// (hosted, embedded mode only, started before the publisher); and the <see cref="MqttPublisher"/> (hosted,
    /// also resolvable as a singleton for <see cref="MqttPublisher.AnnounceModel"/>).
    /// </summary>
    public static IServiceCollection AddPublishing(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<MqttOptions>().Bind(configuration.GetSection(MqttOptions.SectionName)).ValidateOnStart();
        services.AddOptions<OutboxOptions>().Bind(configuration.GetSection(OutboxOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MqttOptions>, MqttOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>());
        // systemd's LoadCredential= hands the service its secrets in this folder (before validation reads them).
        // OpenSSL's variables for the trust store, read once here like every other setting.
        services.Configure<MqttOptions>(o =>
        {
            o.CredentialsDirectory ??= Environment.GetEnvironmentVariable("CREDENTIALS_DIRECTORY");
            o.Tls.SystemCertFile ??= Environment.GetEnvironmentVariable("SSL_CERT_FILE");
            o.Tls.SystemCertDir ??= Environment.GetEnvironmentVariable("SSL_CERT_DIR");
        });
        services.TryAddSingleton(new CommandLineSecrets(SecretsOnCommandLine(configuration)));
        services.AddHostedService<MqttSecurityWarnings>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PipelineCounters>();
        services.TryAddSingleton<VerdictOutbox>();

        // Read before the options exist (the broker is a hosted service or not at all); a value that is no mode is
        // reported at start by the settings check, so here it only needs not to throw.
        var mode = configuration.GetSection(MqttOptions.SectionName)[nameof(MqttOptions.Mode)];
        if (!Enum.TryParse<MqttMode>(mode, ignoreCase: true, out var parsed) || parsed == MqttMode.Embedded)
        {
            services.TryAddSingleton<EmbeddedBroker>();
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }

        services.TryAddSingleton<MqttPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttPublisher>());
        return services;
    }

    /// <summary>Secret settings whose value comes from a command-line provider (visible in <c>ps -ef</c>).</summary>
    internal static IReadOnlyList<string> SecretsOnCommandLine(IConfiguration configuration) =>
        configuration is IConfigurationRoot root
            ? MqttSecrets.SecretKeys
                .Where(key => root.Providers.OfType<Microsoft.Extensions.Configuration.CommandLine.CommandLineConfigurationProvider>()
                    .Any(p => p.TryGet(key, out var value) && !string.IsNullOrEmpty(value)))
                .ToList()
            : [];
}
