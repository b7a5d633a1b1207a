using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// The vendor's ONNX Runtime library as seen by the accelerator hook: where execution-provider entry points are
/// looked up, and whose own OrtApi (OrtGetApiBase → GetApi → function table) reads and frees the OrtStatus those
/// entry points return. A status must be read by the library that made it, hence its own table. The library
/// stays loaded for the life of the process: sessions created with its providers run its code.
/// </summary>
public sealed unsafe class VendorRuntime
{
    // Indices into the OrtApi function table; stable since API version 1 (onnxruntime_c_api.h).
    private const int GetErrorMessageIndex = 2;
    private const int ReleaseStatusIndex = 93;

    // Version 1 has everything used here, and every ORT build answers it.
    private const uint ApiVersion = 1;

    private readonly IntPtr _handle;
    private readonly IntPtr* _api;

    private VendorRuntime(string description, IntPtr handle, string? loadFailure)
    {
        Description = description;
        _handle = handle;
        LoadFailure = loadFailure;
        if (handle == IntPtr.Zero || !NativeLibrary.TryGetExport(handle, "OrtGetApiBase", out var getApiBase))
        {
            return;
        }

        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
        var apiBase = ((delegate* unmanaged<IntPtr*>)getApiBase)();
        if (apiBase == null)
        {
            return;
        }

        Version = Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr>)apiBase[1])());
        _api = ((delegate* unmanaged<uint, IntPtr*>)apiBase[0])(ApiVersion);
    }

    /// <summary>The library path, or a description of the one the managed runtime loaded.</summary>
    public string Description { get; }

    /// <summary>Why the library could not be loaded (the loader's message), or null when it is loaded.</summary>
    public string? LoadFailure { get; }

    /// <summary>The library's own version (OrtApiBase.GetVersionString), or null when it has no OrtGetApiBase.</summary>
    public string? Version { get; }

    /// <summary>Opens the vendor library at <paramref name="path"/>; a failure is recorded, not thrown.</summary>
    public static VendorRuntime Open(string path)
    {
        try
        {
            return new VendorRuntime(path, NativeLibrary.Load(path), null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            return new VendorRuntime(path, IntPtr.Zero, ex.Message);
        }
    }

    /// <summary>The ONNX Runtime library the managed package binds to (packaged, or the vendor's via the resolver).</summary>
    public static VendorRuntime OpenBound()
    {
        const string Name = "onnxruntime";
        try
        {
            var handle = NativeLibrary.Load(Name, typeof(InferenceSession).Assembly, null);
            return new VendorRuntime("the loaded onnxruntime", handle, null);
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            return new VendorRuntime("the loaded onnxruntime", IntPtr.Zero, ex.Message);
        }
    }

    /// <summary>Finds an exported function; when it is missing, <paramref name="reason"/> says exactly what is missing.</summary>
    public bool TryGetExport(string name, out IntPtr address, out string reason)
    {
        address = IntPtr.Zero;
        if (_handle == IntPtr.Zero)
        {
            reason = $"vendor library {Description} could not be loaded: {LoadFailure}";
            return false;
        }

        if (!NativeLibrary.TryGetExport(_handle, name, out address))
        {
            reason = $"{Description} does not export {name} (this BSP's ONNX Runtime was built without that provider)";
            return false;
        }

        reason = string.Empty;
        return true;
    }

    /// <summary>Turns an OrtStatus* returned by <paramref name="entryPoint"/> into a result, releasing the status.</summary>
    public ProviderResult Check(string entryPoint, IntPtr status)
    {
        if (status == IntPtr.Zero)
        {
            return ProviderResult.Success;
        }

        if (_api == null)
        {
            return ProviderResult.Failed(
                $"{entryPoint} failed and {Description} has no OrtGetApiBase to read the error message");
        }

        var message = Marshal.PtrToStringUTF8(((delegate* unmanaged<IntPtr, IntPtr>)_api[GetErrorMessageIndex])(status));
        ((delegate* unmanaged<IntPtr, void>)_api[ReleaseStatusIndex])(status);
        return ProviderResult.Failed($"{entryPoint} returned an error: {message}");
    }
}
