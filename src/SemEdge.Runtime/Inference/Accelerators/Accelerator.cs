using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>What <see cref="Accelerator"/> should try; bound from <see cref="InferenceOptions"/>.</summary>
public sealed record AcceleratorSettings
{
    /// <summary><c>auto</c>, <c>cpu</c>, <c>vsinpu</c>, <c>nnapi</c> or <c>vsinpu-legacy</c>.</summary>
    public string Kind { get; init; } = "cpu";

    /// <summary>Fail start-up instead of falling back to the CPU.</summary>
    public bool Required { get; init; }

    /// <summary>The vendor's libonnxruntime.so; null means the library the managed package already uses.</summary>
    public string? VendorLibraryPath { get; init; }

    /// <summary>
    /// Also bind the managed ONNX Runtime to <see cref="VendorLibraryPath"/> (the board configuration: one library
    /// runs the sessions and provides the NPU entry points). Tests turn this off so the packaged runtime keeps
    /// running the sessions while a fake vendor library answers the entry points.
    /// </summary>
    public bool ReplaceRuntime { get; init; } = true;

    /// <summary>Where the NPU driver keeps compiled graphs (VIV_VX_CACHE_BINARY_GRAPH_DIR).</summary>
    public string? GraphCacheDir { get; init; }
}

/// <summary>
/// Chooses and registers the execution provider for each session: tries the configured NPU provider(s) through
/// the vendor library, logs the exact reason for every refusal, and falls back to the CPU unless the
/// accelerator is required. Create it before any other ONNX Runtime call (it may rebind the native library).
/// </summary>
public sealed class Accelerator
{
    public const string Auto = "auto";

    /// <summary>Every accepted value of <c>Inference:Accelerator</c>.</summary>
    public static IReadOnlyList<string> Kinds { get; } = [Auto, "cpu", "vsinpu", "nnapi", "vsinpu-legacy"];

    /// <summary>The order <c>auto</c> tries: newest BSP first.</summary>
    public static IReadOnlyList<IExecutionProvider> NpuProviders { get; } =
        [new VsiNpuProvider(), EntryPointProvider.Nnapi, EntryPointProvider.VsiNpuLegacy];

    private static readonly CpuProvider CpuOnly = new();

    private readonly ILogger _logger;
    private readonly IReadOnlyList<IExecutionProvider> _candidates;
    private VendorRuntime? _vendor;
    private bool _graphCacheReady;

    public Accelerator(AcceleratorSettings settings, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        _logger = logger ?? NullLogger.Instance;
        _candidates = settings.Kind switch
        {
            "cpu" => [],
            Auto => NpuProviders,
            _ => NpuProviders.Where(p => p.Name == settings.Kind).ToArray() is { Length: 1 } one
                ? one
                : throw new ArgumentException(
                    $"unknown accelerator '{settings.Kind}'; use one of {string.Join(", ", Kinds)}", nameof(settings)),
        };

        if (_candidates.Count > 0 && settings.VendorLibraryPath is { } path)
        {
            _vendor = VendorRuntime.Open(path);
            CheckVersion(_vendor);
            if (settings.ReplaceRuntime && _vendor.LoadFailure is null)
            {
                OnnxRuntimeBinding.Bind(path);
                _logger.LogInformation("ONNX Runtime bound to the vendor library {Path} (version {Version})", path, _vendor.Version);
            }
        }
    }

    /// <summary>CPU only; nothing native is touched.</summary>
    public static Accelerator Cpu { get; } = new(new AcceleratorSettings());

    public AcceleratorSettings Settings { get; }

    /// <summary>Registers a provider on <paramref name="options"/> and returns the name of the one that will run.</summary>
    /// <exception cref="AcceleratorUnavailableException">No NPU provider could be registered and one is required.</exception>
    public string Apply(SessionOptions options, string modelId)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_candidates.Count == 0)
        {
            return CpuOnly.Name;
        }

        _vendor ??= VendorRuntime.OpenBound();
        var reasons = new List<string>();
        foreach (var provider in _candidates)
        {
            if (provider.UsesNpu)
            {
                PrepareGraphCache();
            }

            var result = provider.TryAppend(options, _vendor);
            if (result.Ok)
            {
                _logger.LogInformation("Model {ModelId} runs on the {Provider} execution provider", modelId, provider.Name);
                return provider.Name;
            }

            _logger.LogWarning("Execution provider {Provider} unavailable for {ModelId}: {Reason}", provider.Name, modelId, result.Reason);
            reasons.Add($"{provider.Name}: {result.Reason}");
        }

        if (Settings.Required)
        {
            throw new AcceleratorUnavailableException(
                $"accelerator '{Settings.Kind}' is required (Inference:AcceleratorRequired=true) but unavailable: {string.Join("; ", reasons)}");
        }

        _logger.LogWarning("Model {ModelId} falls back to the CPU execution provider", modelId);
        return CpuOnly.Name;
    }

    private void CheckVersion(VendorRuntime vendor)
    {
        if (vendor.LoadFailure is not null)
        {
            return;
        }

        var vendorVersion = OnnxRuntimeBinding.ParseVersion(vendor.Version);
        var managed = OnnxRuntimeBinding.ManagedVersion;
        if (vendorVersion is not null && vendorVersion >= managed)
        {
            return;
        }

        var problem = vendorVersion is null
            ? $"vendor library {vendor.Description} reports no ONNX Runtime version"
            : $"vendor ONNX Runtime {vendorVersion} ({vendor.Description}) is older than the managed package {managed}; the managed API would call functions the library does not have. Pin Microsoft.ML.OnnxRuntime to at most {vendorVersion}";
        if (Settings.ReplaceRuntime)
        {
            throw new AcceleratorUnavailableException(problem);
        }

        _logger.LogWarning("{Problem}", problem);
    }

    private void PrepareGraphCache()
    {
        if (_graphCacheReady || Settings.GraphCacheDir is not { } dir)
        {
            return;
        }

        // The first NPU compile of a graph takes ~40 s; the driver caches the binary graph here for the next start.
        Directory.CreateDirectory(dir);
        NativeEnvironment.Set("VIV_VX_ENABLE_CACHE_GRAPH_BINARY", "1");
        NativeEnvironment.Set("VIV_VX_CACHE_BINARY_GRAPH_DIR", Path.GetFullPath(dir));
        _graphCacheReady = true;
    }
}
