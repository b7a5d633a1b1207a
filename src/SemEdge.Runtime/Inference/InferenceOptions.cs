using Microsoft.Extensions.Options;
using SemEdge.Imaging;
using SemEdge.Inference.Accelerators;

namespace SemEdge.Inference;

/// <summary>The models and how to run them (config section "Inference").</summary>
public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    /// <summary>Classifier manifest; null means the shipped <c>models/classifier.int8.json</c>.</summary>
    public string? ClassifierManifest { get; set; }

    /// <summary>Optional clean-vs-defect screen manifest; when set, the classifier runs only on likely defects.</summary>
    public string? ScreenManifest { get; set; }

    /// <summary>
    /// ONNX Runtime intra-op threads per model (the i.MX 8M Plus has 4 cores). 1 by default: the daemon's
    /// Pipeline:Workers already spread images over the cores, and each model's own pool on top of that
    /// oversubscribes them (two pools per worker with the screen); an image split over a pool thread that is not
    /// running waits for the scheduler. Measured: the inferred stage p50 5.6 ms with 2, 1.8 ms with 1
    /// (docs/daemon-performance.md).
    /// </summary>
    public int Threads { get; set; } = 1;

    /// <summary><c>auto</c>, <c>cpu</c>, <c>vsinpu</c>, <c>nnapi</c> or <c>vsinpu-legacy</c>.</summary>
    public string Accelerator { get; set; } = "cpu";

    /// <summary>Fail start-up when the accelerator cannot be used, instead of running on the CPU.</summary>
    public bool AcceleratorRequired { get; set; }

    /// <summary>The vendor's libonnxruntime.so (e.g. <c>/usr/lib/libonnxruntime.so</c> on the board's BSP).</summary>
    public string? VendorLibraryPath { get; set; }

    /// <summary>NPU compiled-graph cache folder, so the long first compile is paid once.</summary>
    public string? GraphCacheDir { get; set; } = "/var/cache/semedge/npu";

    /// <summary>Images declaring more pixels than this are refused before decoding (decompression-bomb guard).</summary>
    public long MaxPixels { get; set; } = ImageDecoder.DefaultMaxPixels;

    /// <summary>
    /// Ed25519 public keys whose signatures the daemon accepts on model manifests: name → the key's one-line base64
    /// (the body of its PEM <c>PUBLIC KEY</c> file). A manifest without a valid signature by one of them is refused
    /// at start and at every hot swap. Layers merge by name; an empty value withdraws a key a lower layer trusts
    /// (e.g. <c>"semedge-release": ""</c>).
    /// </summary>
    public Dictionary<string, string> TrustedKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Development only: start (never hot-swap) with a manifest that is unsigned or not signed by a trusted key,
    /// with a warning. A hot swap always needs a valid signature.
    /// </summary>
    public bool AllowUnsignedModelsAtStart { get; set; }

    /// <summary>The parsed <see cref="TrustedKeys"/>.</summary>
    /// <exception cref="FormatException">An entry is not an Ed25519 public key (the validator reports it at start).</exception>
    public IReadOnlyList<Signing.PublicSigningKey> ParseTrustedKeys() =>
        [.. TrustedKeys.Where(kv => !string.IsNullOrWhiteSpace(kv.Value)).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => Signing.PublicSigningKey.Parse(kv.Value, kv.Key))];

    public AcceleratorSettings ToAcceleratorSettings() => new()
    {
        Kind = Accelerator,
        Required = AcceleratorRequired,
        VendorLibraryPath = VendorLibraryPath,
        GraphCacheDir = GraphCacheDir,
    };

    /// <summary>A copy that runs other models; every other setting (threads, accelerator, limits) carries over.</summary>
    public InferenceOptions WithModels(string? classifierManifest, string? screenManifest)
    {
        var copy = (InferenceOptions)MemberwiseClone();
        copy.ClassifierManifest = classifierManifest;
        copy.ScreenManifest = screenManifest;
        return copy;
    }
}

/// <summary>Start-up checks for <see cref="InferenceOptions"/>, worded for the technician editing the config.</summary>
public sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceOptions options)
    {
        var errors = new List<string>();
        if (options.Threads is < 1 or > 64)
        {
            errors.Add($"Inference:Threads is {options.Threads}; use 1 to 64 (the board has 4 cores).");
        }

        if (!Accelerators.Accelerator.Kinds.Contains(options.Accelerator))
        {
            errors.Add($"Inference:Accelerator '{options.Accelerator}' is unknown; use one of {string.Join(", ", Accelerators.Accelerator.Kinds)}.");
        }

        if (options.AcceleratorRequired && options.Accelerator == "cpu")
        {
            errors.Add("Inference:AcceleratorRequired is true but Inference:Accelerator is 'cpu'; name the NPU provider or 'auto'.");
        }

        if (options.MaxPixels < 1)
        {
            errors.Add($"Inference:MaxPixels is {options.MaxPixels}; it must be a positive pixel count (e.g. 67108864).");
        }

        foreach (var (keyName, key) in options.TrustedKeys.Where(kv => !string.IsNullOrWhiteSpace(kv.Value)))
        {
            try
            {
                Signing.PublicSigningKey.Parse(key, keyName);
            }
            catch (FormatException ex)
            {
                errors.Add($"Inference:TrustedKeys:{keyName} is not an Ed25519 public key ({ex.Message}); paste the base64 line of the key's .pub file.");
            }
        }

        CheckFile(options.ClassifierManifest, "Inference:ClassifierManifest", errors);
        CheckFile(options.ScreenManifest, "Inference:ScreenManifest", errors);
        if (options.VendorLibraryPath is { } vendor && !File.Exists(vendor))
        {
            // Not fatal unless the accelerator is required: the hook logs it and falls back to the CPU.
            if (options.AcceleratorRequired)
            {
                errors.Add($"Inference:VendorLibraryPath {vendor} does not exist and the accelerator is required.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void CheckFile(string? path, string key, List<string> errors)
    {
        if (path is not null && !File.Exists(path))
        {
            errors.Add($"{key}: the manifest {Path.GetFullPath(path)} does not exist.");
        }
    }
}
