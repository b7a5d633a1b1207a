using System.CommandLine;
using SemEdge.Toolchain.Datasets;

namespace SemEdge.Cli;

internal static class PreprocessCommand
{
    public static Command Create()
    {
        var command = new Command("preprocess", "Decode and area-resize image files exactly as the daemon does, into a NumPy array for training.");
        var list = new Option<string>("--list") { Description = "Text file with one image path per line.", Required = true };
        var output = new Option<string>("--out") { Description = "Output prefix: writes OUT.npy (float32 [N,S,S], grey in [0,1]) and OUT.json.", Required = true };
        var size = new Option<int>("--size") { Description = "Width and height of the resized images.", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "Images decoded in parallel.", DefaultValueFactory = _ => Environment.ProcessorCount };
        foreach (var option in new Option[] { list, output, size, threads })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => Task.FromResult(WorkstationCli.ExitCode(PreprocessJob.Run(
            new PreprocessRequest(parse.GetValue(list)!, parse.GetValue(output)!, parse.GetValue(size), parse.GetValue(threads)),
            Console.Out, Console.Error, ct))));
        return command;
    }
}
