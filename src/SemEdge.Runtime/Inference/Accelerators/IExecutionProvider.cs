using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// One way of running a model: the seam behind which each execution provider lives in its own small file
/// (<see cref="CpuProvider"/>, <see cref="VsiNpuProvider"/>, <see cref="EntryPointProvider"/> for NNAPI and the legacy VsiNpu).
/// </summary>
public interface IExecutionProvider
{
    /// <summary>The name reported in verdicts and logs, and accepted by <c>Inference:Accelerator</c>.</summary>
    string Name { get; }

    /// <summary>True when the provider runs on the NPU and wants the vendor's graph cache.</summary>
    bool UsesNpu { get; }

    /// <summary>Registers the provider on <paramref name="options"/>; never throws for a missing NPU.</summary>
    ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor);
}

/// <summary>Whether a provider could be registered, and if not, the exact reason for the log.</summary>
public readonly record struct ProviderResult(bool Ok, string? Reason)
{
    public static ProviderResult Success { get; } = new(true, null);

    public static ProviderResult Failed(string reason) => new(false, reason);
}
