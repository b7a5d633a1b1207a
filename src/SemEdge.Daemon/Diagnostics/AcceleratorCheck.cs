using Microsoft.ML.OnnxRuntime;
using SemEdge.Inference.Accelerators;

namespace SemEdge.Diagnostics;

/// <summary>
/// Which execution provider the daemon's models would run on, found with the daemon's own accelerator hook
/// (vendor library, entry point, registration on a session), and why an NPU provider was refused.
/// </summary>
public static class AcceleratorCheck
{
    public const string Area = "accelerator";

    public static IReadOnlyList<CheckResult> Run(DoctorContext context)
    {
        if (context.Inference.Value is not { } inference)
        {
            return [CheckResult.Fail(Area, "not checked: the Inference section is invalid (see config)")];
        }

        var settings = inference.ToAcceleratorSettings();
        if (settings.Kind == "cpu")
        {
            return [CheckResult.Pass(Area, "cpu (Inference:Accelerator is cpu; the NPU is not used)")];
        }

        var results = new List<CheckResult>();
        if (settings.VendorLibraryPath is { } path)
        {
            var vendor = VendorRuntime.Open(path);
            results.Add(vendor.LoadFailure is null
                ? CheckResult.Pass(Area, $"vendor library {path} loads (ONNX Runtime {vendor.Version ?? "version unknown"})")
                : CheckResult.Fail(Area, $"vendor library {path} does not load: {vendor.LoadFailure}"));
        }

        var log = new RecordingLogger();
        try
        {
            var accelerator = new Accelerator(settings, log);
            using var options = new SessionOptions();
            var provider = accelerator.Apply(options, "doctor");
            if (provider == "cpu")
            {
                results.Add(CheckResult.Warn(Area,
                    $"'{settings.Kind}' requested but the models would run on the CPU: {string.Join("; ", log.Warnings)}"));
            }
            else
            {
                results.Add(CheckResult.Pass(Area, $"models would run on the {provider} execution provider (entry point found and registered)"));
            }
        }
        catch (Exception ex) when (ex is AcceleratorUnavailableException or DllNotFoundException or EntryPointNotFoundException
            or OnnxRuntimeException or InvalidOperationException)
        {
            results.Add(CheckResult.Fail(Area, $"'{settings.Kind}' cannot be used: {ex.Message}"));
        }

        return results;
    }
}
