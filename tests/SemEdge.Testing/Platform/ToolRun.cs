using System.Diagnostics;
using System.Text;

namespace SemEdge.Tests.Platform;

/// <summary>The outcome of one external program run by a platform test.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    /// <summary>Runs a program to completion (killing its process tree on timeout) and captures both streams.</summary>
    public static async Task<ToolRun> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan timeout,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepoPaths.Root,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    info.Environment.Remove(key);
                }
                else
                {
                    info.Environment[key] = value;
                }
            }
        }

        using var process = new Process { StartInfo = info };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"{fileName} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}.\n{stdout}\n{stderr}");
        }

        // WaitForExitAsync returns once the streams are drained, so the builders are complete here.
        return new ToolRun(process.ExitCode, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>Paths in the checkout the platform tests work on.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Platform => Path.Combine(Root, "platform");

    public static string Scripts => Path.Combine(Root, "scripts");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SemEdge.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no SemEdge.sln above {AppContext.BaseDirectory}");
    }
}

internal static class FileHash
{
    public static async Task<string> Sha256HexAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream));
    }
}
