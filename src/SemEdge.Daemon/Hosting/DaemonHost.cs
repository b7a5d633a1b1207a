using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Decision;
using SemEdge.Diagnostics;
using SemEdge.Inference;
using SemEdge.Ingest;
using SemEdge.Pipeline;
using SemEdge.Publishing;
using SemEdge.Telemetry;
using SemEdge.Web;

namespace SemEdge.Hosting;

/// <summary>What <c>semedge run</c> was given: the site file, <c>--Section:Key=value</c> overrides, systemd's environment.</summary>
public sealed record DaemonHostSettings
{
    public const string DefaultSiteConfig = "/etc/semedge/semedge.json";

    /// <summary>The site configuration file; null means <c>$SEMEDGE_CONFIG</c>, else <see cref="DefaultSiteConfig"/> if present.</summary>
    public string? SiteConfig { get; init; }

    /// <summary>Overrides in <c>--Section:Key=value</c> form; they win over every other layer.</summary>
    public IReadOnlyList<string> Overrides { get; init; } = [];

    /// <summary>Whether <c>SEMEDGE__Section__Key</c> environment variables are read (tests in one process turn this off).</summary>
    public bool ReadEnvironment { get; init; } = true;

    public ServiceManagerEnvironment ServiceManager { get; init; } = ServiceManagerEnvironment.FromProcess();

    /// <summary>Replaces services after the defaults, for tests (a recording GPIO driver, a slow inspector).</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }
}

/// <summary>
/// The one composition root of the daemon. Configuration layers, each overriding the one before:
/// <c>appsettings.json</c> beside the executable, the site file (<c>/etc/semedge/semedge.json</c>, or
/// <c>--config</c>, or <c>$SEMEDGE_CONFIG</c>), <c>SEMEDGE__Section__Key</c> environment variables, then
/// <c>--Section:Key=value</c> arguments. Every options section is validated before anything starts.
/// </summary>
public static class DaemonHost
{
    public static IHost Build(DaemonHostSettings settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = "semedge",
            ContentRootPath = Directory.GetCurrentDirectory(),
        });

        AddConfiguration(builder.Configuration, settings);
        AddLogging(builder);
        var configuration = builder.Configuration;
        var services = builder.Services;

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings.ServiceManager);
        // Reads NOTIFY_SOCKET itself (an '@' names an abstract socket); tests hand in their own notifier.
        services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        services.AddSingleton<PipelineCounters>();
        services.AddSingleton<PipelineProgress>();
        services.AddSingleton<LatencyBudget>();
        services.AddSingleton<MissedPulseAlarms>();
        services.AddSingleton<DaemonExit>();

        Validated<IngestOptions, IngestOptionsValidator>(services, services.AddOptions<IngestOptions>().Bind(configuration.GetSection(IngestOptions.SectionName)));
        Validated<PipelineOptions, PipelineOptionsValidator>(services, services.AddOptions<PipelineOptions>().Bind(configuration.GetSection(PipelineOptions.SectionName)));
        Validated<SystemdOptions, SystemdOptionsValidator>(services, services.AddOptions<SystemdOptions>().Bind(configuration.GetSection(SystemdOptions.SectionName)));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<IngestOptions>>().Value);
        services.AddSingleton<DropFolder>();
        services.AddSingleton<DropFolderWatcher>();
        services.AddSingleton<Quarantine>();
        services.AddSingleton<ImageArchive>();
        services.AddSingleton<ArchiveRetention>();

        AddInspection(services, configuration);

        // Start order is registration order: broker and publisher first, so the model announcement and the first
        // verdicts have somewhere to go; the pipeline next; systemd last (it waits for the pipeline's READY).
        services.AddPublishing(configuration);
        services.AddActuation(configuration);
        services.AddHostedService<InspectionPipeline>();
        services.AddHostedService<ModelHotSwap>();
        services.AddHostedService<ServiceManagerNotifications>();
        // The technician's page (off unless Web:Enabled) starts last and only observes.
        services.AddWebPage(configuration);

        settings.ConfigureServices?.Invoke(services);
        return builder.Build();
    }

    /// <summary>
    /// Runs every start-up check of the settings now, before any service is created, and returns all problems
    /// in words (empty when the settings are sound). Without this the first options read by a constructor would
    /// fail alone, wrapped in a stack trace.
    /// </summary>
    public static IReadOnlyList<string> CheckSettings(IServiceProvider services)
    {
        // Renamed keys and words that are no choice first: binding would stop at the first such value.
        var precheck = SettingsPrecheck.Problems(services.GetRequiredService<IConfiguration>());
        if (precheck.Count > 0)
        {
            return precheck;
        }

        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
            return [];
        }
        catch (OptionsValidationException ex)
        {
            return [.. ex.Failures];
        }
        catch (AggregateException ex)
        {
            return [.. ex.InnerExceptions.SelectMany(e => e is OptionsValidationException o ? o.Failures : [e.Message])];
        }
        catch (InvalidOperationException ex)
        {
            // A value that does not convert, e.g. "Failed to convert configuration value at 'Ingest:StableFor'".
            return [ex.Message];
        }
    }

    private static void AddInspection(IServiceCollection services, IConfiguration configuration)
    {
        Validated<InferenceOptions, InferenceOptionsValidator>(services, services.AddOptions<InferenceOptions>().Bind(configuration.GetSection(InferenceOptions.SectionName)));
        Validated<DecisionOptions, DecisionOptionsValidator>(services, services.AddOptions<DecisionOptions>().Bind(configuration.GetSection(DecisionOptions.SectionName)));
        services.AddSingleton<IInspectorLoader, OnnxInspectorLoader>();
        services.AddSingleton(sp =>
        {
            var inference = sp.GetRequiredService<IOptions<InferenceOptions>>().Value;
            var screen = inference.ScreenManifest;
            if (screen is null && sp.GetRequiredService<IOptions<PipelineOptions>>().Value.UseShippedScreen &&
                ShippedModels.FindFolder() is { } shipped && File.Exists(Path.Combine(shipped, ShippedModels.ScreenFile)))
            {
                screen = Path.Combine(shipped, ShippedModels.ScreenFile);
            }

            return new ModelFolder(inference.ClassifierManifest, screen);
        });
        services.AddSingleton<ModelStore>();
    }

    private static void AddConfiguration(ConfigurationManager configuration, DaemonHostSettings settings)
    {
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        var site = settings.SiteConfig ?? Environment.GetEnvironmentVariable("SEMEDGE_CONFIG");
        // A site file named explicitly must exist; the default one is optional (a development machine has none).
        configuration.AddJsonFile(Path.GetFullPath(site ?? DaemonHostSettings.DefaultSiteConfig), optional: site is null, reloadOnChange: false);
        if (settings.ReadEnvironment)
        {
            configuration.AddEnvironmentVariables("SEMEDGE__");
        }

        configuration.AddCommandLine(settings.Overrides.ToArray());
    }

    private static void AddLogging(HostApplicationBuilder builder)
    {
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.UseUtcTimestamp = true;
            options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });

        // Under systemd: journald's console format (priority prefixes, no timestamps of our own). Not AddSystemd():
        // its lifetime would send READY=1 as soon as the hosted services start, before the models are warm.
        // ServiceManagerNotifications owns the notify protocol; the console lifetime handles SIGTERM.
        if (SystemdHelpers.IsSystemdService())
        {
            builder.Logging.AddSystemdConsole();
        }

        builder.Services.Configure<ConsoleLifetimeOptions>(options => options.SuppressStatusMessages = true);
    }

    // Bind stays at the call sites: the configuration binding generator (needed for the trimmed bundle) cannot
    // see through a generic Bind call.
    // The annotations tell the trimmer to keep the constructors the container calls (the bundle is trimmed).
    private static void Validated<
        [System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions,
        [System.Diagnostics.CodeAnalysis.DynamicallyAccessedMembers(System.Diagnostics.CodeAnalysis.DynamicallyAccessedMemberTypes.PublicConstructors)] TValidator>(
        IServiceCollection services, OptionsBuilder<TOptions> options)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
    }
}
