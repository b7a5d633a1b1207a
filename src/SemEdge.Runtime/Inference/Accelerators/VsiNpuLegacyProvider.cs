using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// The BSP 5.x VsiNpu execution provider:
/// <c>OrtStatus* OrtSessionOptionsAppendExecutionProvider_VsiNpu(OrtSessionOptions*, int device_id)</c>.
/// </summary>
public sealed class VsiNpuLegacyProvider : IExecutionProvider
{
    public const string EntryPoint = "OrtSessionOptionsAppendExecutionProvider_VsiNpu";

    /// <summary>The i.MX 8M Plus has one NPU.</summary>
    public const int DeviceId = 0;

    public string Name => "vsinpu-legacy";

    public bool UsesNpu => true;

    public unsafe ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor)
    {
        if (!vendor.TryGetExport(EntryPoint, out var address, out var reason))
        {
            return ProviderResult.Failed(reason);
        }

        var append = (delegate* unmanaged<IntPtr, int, IntPtr>)address;
        return vendor.Check(EntryPoint, append(options.DangerousGetHandle(), DeviceId));
    }
}
