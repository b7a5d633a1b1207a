using System.CommandLine;

namespace SemEdge.Cli;

/// <summary>
/// The <c>semedge</c> command line: one executable, one subcommand per job.
/// Exit codes: 0 success, 1 the job failed, 2 bad usage.
/// </summary>
public static class SemEdgeCli
{
    public const int ExitOk = 0;
    public const int ExitFailed = 1;
    public const int ExitUsage = 2;

    public static RootCommand Build()
    {
        var root = new RootCommand("SemEdge: SEM wafer-defect inspection at the edge.");
        // One line per subcommand; each command lives in its own file under Cli/.
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(ParityCommand.Create());
        root.Subcommands.Add(QuantizeCommand.Create());
        root.Subcommands.Add(RunCommand.Create());
        root.Subcommands.Add(ClassifyCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(PreprocessCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(SigningCommands.CreateKeygen());
        root.Subcommands.Add(SigningCommands.CreateSignModel());
        root.Subcommands.Add(DemoCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var parse = Build().Parse(args);
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
