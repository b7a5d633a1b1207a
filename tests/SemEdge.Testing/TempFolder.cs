namespace SemEdge.Tests;

/// <summary>A fresh folder under the system temp folder, removed with everything in it.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder(string prefix = "semedge-test-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A child process may still hold a file for a moment; the OS temp cleaner gets it.
        }
    }
}
