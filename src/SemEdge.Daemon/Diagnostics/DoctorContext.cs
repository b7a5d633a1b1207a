using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using SemEdge.Actuation;
using SemEdge.Inference;
using SemEdge.Ingest;
using SemEdge.Pipeline;
using SemEdge.Publishing;

namespace SemEdge.Diagnostics;

/// <summary>
/// The daemon's settings as <c>semedge run</c> would see them (same host, same layers, same validators), each
/// section either bound and valid or with the technician-facing reasons it is not.
/// </summary>
public sealed class DoctorContext(IServiceProvider services, string? configFile)
{
    /// <summary>The site file that was read, or null when none exists (defaults only).</summary>
    public string? ConfigFile { get; } = configFile;

    /// <summary>Renamed keys and values that are no choice, found before binding (<see cref="SettingsPrecheck"/>).</summary>
    public IReadOnlyList<string> Precheck { get; } =
        services.GetService(typeof(Microsoft.Extensions.Configuration.IConfiguration)) is Microsoft.Extensions.Configuration.IConfiguration configuration
            ? SettingsPrecheck.Problems(configuration)
            : [];

    public Section<IngestOptions> Ingest { get; } = Section<IngestOptions>.Read(services, IngestOptions.SectionName);

    public Section<PipelineOptions> Pipeline { get; } = Section<PipelineOptions>.Read(services, PipelineOptions.SectionName);

    public Section<SystemdOptions> Systemd { get; } = Section<SystemdOptions>.Read(services, SystemdOptions.SectionName);

    public Section<InferenceOptions> Inference { get; } = Section<InferenceOptions>.Read(services, InferenceOptions.SectionName);

    public Section<Decision.DecisionOptions> Decision { get; } = Section<Decision.DecisionOptions>.Read(services, SemEdge.Decision.DecisionOptions.SectionName);

    public Section<MqttOptions> Mqtt { get; } = Section<MqttOptions>.Read(services, MqttOptions.SectionName);

    public Section<OutboxOptions> Outbox { get; } = Section<OutboxOptions>.Read(services, OutboxOptions.SectionName);

    public Section<GpioOptions> Gpio { get; } = Section<GpioOptions>.Read(services, GpioOptions.SectionName);

    public IEnumerable<(string Name, IReadOnlyList<string> Failures)> Sections =>
    [
        (Ingest.Name, Ingest.Failures), (Pipeline.Name, Pipeline.Failures), (Systemd.Name, Systemd.Failures),
        (Inference.Name, Inference.Failures), (Decision.Name, Decision.Failures), (Mqtt.Name, Mqtt.Failures),
        (Outbox.Name, Outbox.Failures), (Gpio.Name, Gpio.Failures),
    ];
}

/// <summary>One configuration section: its value when it binds and validates, else why not.</summary>
public sealed class Section<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] T>
    where T : class
{
    private Section(string name, T? value, IReadOnlyList<string> failures)
    {
        Name = name;
        Value = value;
        Failures = failures;
    }

    public string Name { get; }

    public T? Value { get; }

    public IReadOnlyList<string> Failures { get; }

    public static Section<T> Read(IServiceProvider services, string name)
    {
        try
        {
            return new Section<T>(name, services.GetService(typeof(IOptions<T>)) is IOptions<T> options ? options.Value : null, []);
        }
        catch (OptionsValidationException ex)
        {
            return new Section<T>(name, null, ex.Failures.ToList());
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key and the value it could not convert.
            return new Section<T>(name, null, [ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message]);
        }
    }
}
