using SemEdge.Cli;

namespace SemEdge.Tests.Cli;

public class WorkstationCliTests
{
    [Fact]
    public void The_workstation_reaches_every_command_the_board_has_and_the_tools()
    {
        var names = WorkstationCli.Build().Subcommands.Select(c => c.Name).ToList();

        Assert.Equal(
            ["bench", "classify", "demo", "doctor", "evaluate", "keygen", "parity", "preprocess", "quantize", "run", "sign-model", "synth"],
            names.Order());
        Assert.Subset(names.ToHashSet(), SemEdgeCli.BoardCommands(benchImages: null).Select(c => c.Name).ToHashSet());
    }

    [Fact]
    public async Task A_toolchain_jobs_bad_input_is_bad_usage()
    {
        using var dir = new TempFolder();

        var code = await WorkstationCli.RunAsync(["quantize", Path.Combine(dir.Path, "missing.onnx"), "--calib", dir.Path, "--out", Path.Combine(dir.Path, "o.onnx")],
            CancellationToken.None);

        Assert.Equal(SemEdgeCli.ExitUsage, code);
    }
}
