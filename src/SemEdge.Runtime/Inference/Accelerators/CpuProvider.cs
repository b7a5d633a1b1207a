using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>ONNX Runtime's own CPU kernels: always present, nothing to register.</summary>
public sealed class CpuProvider : IExecutionProvider
{
    public string Name => "cpu";

    public bool UsesNpu => false;

    public ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor) => ProviderResult.Success;
}
