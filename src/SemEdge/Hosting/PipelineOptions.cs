using Microsoft.Extensions.Options;

namespace SemEdge.Hosting;

/// <summary>Settings of section <c>Pipeline</c>.</summary>
public sealed class PipelineOptions
{
    public const string Section = "Pipeline";

    /// <summary>
    /// Claimed images waiting for inspection. When full, nothing more is claimed: files wait in the drop folder,
    /// where the SEM and a technician can still see them.
    /// </summary>
    public int QueueCapacity { get; set; } = 8;

    /// <summary>
    /// When Inference:ScreenManifest is not set, put the shipped clean-vs-defect screen (models/screen.int8.json)
    /// in front of the classifier if it exists.
    /// </summary>
    public bool UseShippedScreen { get; set; } = true;

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

        if (options.ModelCheckInterval < TimeSpan.Zero || (options.ModelCheckInterval > TimeSpan.Zero && options.ModelCheckInterval < TimeSpan.FromMilliseconds(100)))
        {
            failures.Add($"Pipeline:ModelCheckInterval is {options.ModelCheckInterval}; use 00:00:00 (off) or at least 00:00:00.1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
