using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// Points the managed ONNX Runtime package at the vendor's libonnxruntime.so instead of the packaged one, so
/// sessions and the NPU provider hook live in one library. .NET allows one DllImport resolver per assembly and it
/// only matters before the first ORT call, which makes this inherently process-wide: the single static below
/// records what was bound so that a second, different request fails loudly instead of being ignored.
/// </summary>
public static class OnnxRuntimeBinding
{
    private static readonly Lock Gate = new();
    private static string? _boundPath;

    /// <summary>The version of the managed ORT package (what the vendor library must be at least).</summary>
    public static Version ManagedVersion { get; } = ReadManagedVersion();

    /// <summary>Binds the DllImport name "onnxruntime" of the managed package to <paramref name="libraryPath"/>.</summary>
    public static void Bind(string libraryPath)
    {
        var full = Path.GetFullPath(libraryPath);
        lock (Gate)
        {
            if (_boundPath is not null)
            {
                if (_boundPath != full)
                {
                    throw new InvalidOperationException(
                        $"ONNX Runtime is already bound to {_boundPath}; cannot rebind to {full} in the same process");
                }

                return;
            }

            NativeLibrary.SetDllImportResolver(typeof(InferenceSession).Assembly, (name, _, _) =>
                name is "onnxruntime" or "libonnxruntime" or "libonnxruntime.so" ? NativeLibrary.Load(full) : IntPtr.Zero);
            _boundPath = full;
        }
    }

    /// <summary>Parses "1.20.0" style versions; null when the text is not a version.</summary>
    public static Version? ParseVersion(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var core = text.Split('-', '+', ' ')[0];
        return Version.TryParse(core, out var v) ? new Version(v.Major, v.Minor, Math.Max(v.Build, 0)) : null;
    }

    private static Version ReadManagedVersion()
    {
        var assembly = typeof(InferenceSession).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return ParseVersion(informational) ?? assembly.GetName().Version ?? new Version(0, 0, 0);
    }
}
