using System.CommandLine;
using SemEdge.Toolchain;

namespace SemEdge.Cli;

/// <summary>
/// The workstation's <c>semedge</c> (scripts/semedge): the board's commands, with bench synthesising its default
/// images, plus the generator's and the toolchain's commands. Same exit codes as the board's
/// (<see cref="SemEdgeCli"/>); a toolchain job's <see cref="JobInputException"/> is bad usage.
/// </summary>
public static class WorkstationCli
{
    public static RootCommand Build() => SemEdgeCli.Build(
    [
        .. SemEdgeCli.BoardCommands(BenchImages.Generator),
        SynthCommand.Create(),
        DemoCommand.Create(),
        QuantizeCommand.Create(),
        ParityCommand.Create(),
        EvaluateCommand.Create(),
        PreprocessCommand.Create(),
        SigningCommands.CreateKeygen(),
        SigningCommands.CreateSignModel(),
    ]);

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            return await SemEdgeCli.RunAsync(Build(), args, cancellationToken);
        }
        catch (JobInputException ex)
        {
            Console.Error.WriteLine($"semedge: {ex.Message}");
            return SemEdgeCli.ExitUsage;
        }
    }

    /// <summary>The exit code of a toolchain job that ran.</summary>
    public static int ExitCode(JobOutcome outcome) => outcome == JobOutcome.Succeeded ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed;
}
