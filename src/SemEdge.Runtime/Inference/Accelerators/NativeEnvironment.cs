using System.Runtime.InteropServices;

namespace SemEdge.Inference.Accelerators;

/// <summary>
/// Sets process environment variables that native code reads with getenv. On Linux .NET keeps its own copy of
/// the environment, so <see cref="Environment.SetEnvironmentVariable(string, string)"/> alone is invisible to the
/// NPU driver; this writes both.
/// </summary>
internal static partial class NativeEnvironment
{
    public static void Set(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (SetEnv(name, value, 1) != 0)
        {
            throw new InvalidOperationException($"setenv({name}) failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
