using System.CommandLine;

namespace SemEdge.Cli;

internal static class SynthCommand
{
    public static Command Create()
    {
        var command = new Command("synth", "Generate synthetic SEM defect images.");
        var outOption = new Option<DirectoryInfo>("--out") { Description = "Output folder.", Required = true };
        command.Options.Add(outOption);
        command.SetAction((parse, ct) =>
        {
            var outDir = parse.GetValue(outOption)!;
            throw new UsageException($"synth is not built yet ({outDir.FullName})");
#pragma warning disable CS0162
            return Task.FromResult(0);
#pragma warning restore CS0162
        });
        return command;
    }
}
