using System.CommandLine;

namespace SemEdge.Cli;

/// <summary>
/// The <c>semedge</c> command line: one subcommand per job. This is the board's: the commands a board needs
/// (run, classify, doctor, bench); the workstation's semedge (src/SemEdge.Workstation) adds the generator's and
/// the toolchain's commands to these.
/// Exit codes: 0 success, 1 the job failed, 2 bad usage.
/// </summary>
public static class SemEdgeCli
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    /// <param name="benchImages">What bench synthesises its default images with; null where there is no generator.</param>
    public static IReadOnlyList<Command> BoardCommands(SyntheticBenchImages? benchImages) =>
    [
        // One line per subcommand; each command lives in its own file under Cli/.
        RunCommand.Create(),
        ClassifyCommand.Create(),
        DoctorCommand.Create(),
        BenchCommand.Create(benchImages),
    ];

    public static RootCommand Build(IEnumerable<Command> commands)
    {
        var root = new RootCommand("SemEdge: SEM wafer-defect inspection at the edge.");
        foreach (var command in commands)
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Runs the board's command line.</summary>
    public static Task<int> RunAsync(string[] args, CancellationToken cancellationToken) =>
        RunAsync(Build(BoardCommands(benchImages: null)), args, cancellationToken);

    public static async Task<int> RunAsync(RootCommand root, string[] args, CancellationToken cancellationToken)
    {
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // A technician wants the reason, not a wall of help text.
            Console.Error.WriteLine($"semedge: {parse.Errors[0].Message} (see 'semedge --help')");
            return ExitUsage;
        }

        try
        {
            // Without this, System.CommandLine prints its own trace for UsageException instead of the one-line message.
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancellationToken);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine($"semedge: {ex.Message}");
            return ExitUsage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("semedge: cancelled");
            return ExitFailed;
        }
    }
}
