using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// NXP's VeriSilicon NPU execution provider in the BSP 6.12+ ONNX Runtime:
/// <c>OrtStatus* OrtSessionOptionsAppendExecutionProvider_VSINPU(OrtSessionOptions*)</c>.
/// </summary>
public sealed class VsiNpuProvider : IExecutionProvider
{
    public const string EntryPoint = "OrtSessionOptionsAppendExecutionProvider_VSINPU";

    public string Name => "vsinpu";

    public bool UsesNpu => true;

    public unsafe ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor)
    {
        if (!vendor.TryGetExport(EntryPoint, out var address, out var reason))
        {
            return ProviderResult.Failed(reason);
        }

        var append = (delegate* unmanaged<IntPtr, IntPtr>)address;
        return vendor.Check(EntryPoint, append(options.DangerousGetHandle()));
    }
}
