using System.CommandLine;
using SemEdge.Toolchain.Evaluation;

namespace SemEdge.Cli;

internal static class EvaluateCommand
{
    public static Command Create()
    {
        var command = new Command("evaluate", "Accuracy, per-class figures, confusion matrix and latency of a model on a labelled test split.");
        var model = new Argument<string>("MODEL") { Description = "Model manifest (.json): a classifier or a screen." };
        var data = new Option<string>("--data") { Description = "Test split: DIR/{class}/*.png (e.g. DATA/test).", Required = true };
        var screen = new Option<string?>("--screen") { Description = "Screen manifest: also evaluate the two-stage cascade." };
        var output = new Option<string>("--out") { Description = "Folder for report.json and the confusion-matrix PNGs.", DefaultValueFactory = _ => "evaluation" };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads.", DefaultValueFactory = _ => 1 };
        command.Arguments.Add(model);
        command.Options.Add(data);
        command.Options.Add(screen);
        command.Options.Add(output);
        command.Options.Add(threads);
        command.SetAction((parse, ct) => Task.FromResult(WorkstationCli.ExitCode(EvaluateJob.Run(
            new EvaluateRequest(parse.GetValue(model)!, parse.GetValue(data)!, parse.GetValue(screen), parse.GetValue(output)!, parse.GetValue(threads)),
            Console.Out, Console.Error, ct))));
        return command;
    }
}
