using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// An execution provider of an older BSP's ONNX Runtime, registered through one exported C function of the form
/// <c>OrtStatus* EntryPoint(OrtSessionOptions*, 32-bit integer)</c>. The two such providers differ only in the
/// function's name and the integer: <see cref="Nnapi"/> and <see cref="VsiNpuLegacy"/>.
/// </summary>
public sealed class EntryPointProvider(string name, string entryPoint, int argument) : IExecutionProvider
{
    /// <summary>
    /// BSP 6.1–6.6: NNAPI, which reaches the NPU through NXP's NNAPI shim,
    /// <c>OrtSessionOptionsAppendExecutionProvider_Nnapi(OrtSessionOptions*, uint32_t flags)</c>. Flags 0: FP16
    /// relaxation off (the model is INT8), CPU fallback inside NNAPI allowed.
    /// </summary>
    public static EntryPointProvider Nnapi { get; } = new("nnapi", "OrtSessionOptionsAppendExecutionProvider_Nnapi", 0);

    /// <summary>
    /// BSP 5.x: <c>OrtSessionOptionsAppendExecutionProvider_VsiNpu(OrtSessionOptions*, int device_id)</c>; device 0,
    /// the i.MX 8M Plus has one NPU.
    /// </summary>
    public static EntryPointProvider VsiNpuLegacy { get; } = new("vsinpu-legacy", "OrtSessionOptionsAppendExecutionProvider_VsiNpu", 0);

    public string Name => name;

    /// <summary>The exported function that registers the provider.</summary>
    public string EntryPoint => entryPoint;

    public bool UsesNpu => true;

    public unsafe ProviderResult TryAppend(SessionOptions options, VendorRuntime vendor)
    {
        if (!vendor.TryGetExport(entryPoint, out var address, out var reason))
        {
            return ProviderResult.Failed(reason);
        }

        // uint32_t flags and int device_id travel the same way in the C calling convention (one 32-bit register).
        var append = (delegate* unmanaged<IntPtr, int, IntPtr>)address;
        return vendor.Check(entryPoint, append(options.DangerousGetHandle(), argument));
    }
}
