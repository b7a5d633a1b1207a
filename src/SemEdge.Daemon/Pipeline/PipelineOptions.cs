using Microsoft.Extensions.Options;

namespace SemEdge.Pipeline;

/// <summary>Settings of section <c>Pipeline</c>.</summary>
public sealed class PipelineOptions
{
    public const string SectionName = "Pipeline";

    /// <summary>
    /// Claimed images waiting for inspection. When full, nothing more is claimed: files wait in the drop folder,
    /// where the SEM and a technician can still see them.
    /// </summary>
    public int QueueCapacity { get; set; } = 8;

    /// <summary>
    /// When Inference:ScreenManifest is not set, put the shipped clean-vs-defect screen (models/screen.int8.json)
    /// in front of the classifier if it exists. Off by default: the shipped screen does not earn its place. At the
    /// 99.5 % defect recall it must keep it passes 11 % of the clean test images (its target is half), so on a
    /// clean-heavy stream it spares the classifier too rarely to pay for itself (`semedge bench`: the cascade costs
    /// 1.11x the single stage), and every image it does not spare waits for both models (the inferred stage p50
    /// 1.15-1.34 ms with it, 0.78-0.79 ms without, docs/daemon-performance.md). A screen can only add escapes,
    /// never remove the classifier's: an image it sends on is still the classifier's to pass. Turn it on (or set
    /// Inference:ScreenManifest) for a screen whose card shows it passes a large share of clean images.
    /// </summary>
    public bool UseShippedScreen { get; set; }

    /// <summary>
    /// Decode workers: each reads, decodes and preprocesses images, several at once; one inference stage then runs
    /// the models (one copy of them) on each image in claim order, and verdicts are recorded, pulsed and published
    /// in that order. 0 means the number of cores minus one (at least 1): the workers plus the inference stage fill
    /// the cores (docs/daemon-performance.md has the figures for other counts).
    /// </summary>
    public int Workers { get; set; }

    /// <summary>The worker count in effect: <see cref="Workers"/>, or cores minus one when it is 0.</summary>
    public int EffectiveWorkers => Workers > 0 ? Workers : Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>
    /// TEST ONLY, off by default: the process kills itself (SIGKILL) right after the first reject or review verdict
    /// that has a line to pulse was made durable and before the pulse, so a test can show what recovery then
    /// reports (the missed-pulse alarm). Never set this on a line.
    /// </summary>
    public bool TestOnlyKillBeforePulse { get; set; }

    /// <summary>How often the models folder is checked for a new or changed model (hot swap); 0 turns it off.</summary>
    public TimeSpan ModelCheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}

public sealed class PipelineOptionsValidator : IValidateOptions<PipelineOptions>
{
    public ValidateOptionsResult Validate(string? name, PipelineOptions options)
    {
        var failures = new List<string>();
        if (options.QueueCapacity is < 1 or > 10_000)
        {
            failures.Add($"Pipeline:QueueCapacity is {options.QueueCapacity}; use 1 to 10000 images.");
        }

        if (options.Workers is < 0 or > 64)
        {
            failures.Add($"Pipeline:Workers is {options.Workers}; use 1 to 64, or 0 for the number of cores minus one.");
        }

        if (options.ModelCheckInterval < TimeSpan.Zero || (options.ModelCheckInterval > TimeSpan.Zero && options.ModelCheckInterval < TimeSpan.FromMilliseconds(100)))
        {
            failures.Add($"Pipeline:ModelCheckInterval is {options.ModelCheckInterval}; use 00:00:00 (off) or at least 00:00:00.1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
