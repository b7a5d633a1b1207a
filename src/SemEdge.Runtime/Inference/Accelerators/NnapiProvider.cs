using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// The NNAPI execution provider of the BSP 6.1–6.6 ONNX Runtime, which reaches the NPU through NXP's NNAPI shim:
/// <c>OrtStatus* OrtSessionOptionsAppendExecutionProvider_Nnapi(OrtSessionOptions*, uint32_t flags)</c>.
/// </summary>
public sealed class NnapiProvider : IExecutionProvider
{
    public const string EntryPoint = "OrtSessionOptionsAppendExecutionProvider_Nnapi";

    /// <summary>No NNAPI flags: FP16 relaxation off (the model is INT8), CPU fallback inside NNAPI allowed.</summary>
    public const uint Flags = 0;

    public string Name => "nnapi";

    public bool UsesNpu => true;

    public unsafe ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor)
    {
        if (!vendor.TryGetExport(EntryPoint, out var address, out var reason))
        {
            return ProviderResult.Failed(reason);
        }

        var append = (delegate* unmanaged<IntPtr, uint, IntPtr>)address;
        return vendor.Check(EntryPoint, append(options.DangerousGetHandle(), Flags));
    }
}
