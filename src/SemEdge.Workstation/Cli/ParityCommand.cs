using System.CommandLine;
using SemEdge.Toolchain;
using SemEdge.Toolchain.Evaluation;

namespace SemEdge.Cli;

internal static class ParityCommand
{
    public static Command Create()
    {
        var command = new Command("parity", "Check an exported model against the training framework's logits (exit 1 above tolerance).");
        var model = new Argument<string>("MODEL") { Description = "Model manifest (.json) or ONNX file." };
        var reference = new Option<string>("--reference") { Description = "Parity reference JSON written by the trainer.", Required = true };
        var tolerance = new Option<float>("--tolerance") { Description = "Largest allowed absolute logit difference.", DefaultValueFactory = _ => 1e-4f };
        command.Arguments.Add(model);
        command.Options.Add(reference);
        command.Options.Add(tolerance);
        command.SetAction((parse, ct) =>
        {
            var tol = parse.GetValue(tolerance);
            if (!(tol >= 0) || float.IsInfinity(tol))
            {
                throw new UsageException($"--tolerance must be a finite number >= 0, got {tol}");
            }

            var referencePath = parse.GetValue(reference)!;
            if (!File.Exists(referencePath))
            {
                throw new UsageException($"reference '{referencePath}' does not exist");
            }

            var files = ModelFiles.Resolve(parse.GetValue(model)!, requireIntact: false);
            try
            {
                files.VerifyIntact();
                var result = ParityCheck.Run(files.OnnxPath, ParityReference.Load(referencePath), tol, ct);
                foreach (var c in result.Cases)
                {
                    Console.WriteLine($"case {c.Case}: max |diff| {c.MaxAbsDiff:G4}, top-1 reference {c.ReferenceTop1} model {c.ModelTop1}");
                }

                Console.WriteLine($"{(result.Passed ? "PASS" : "FAIL")}: max abs diff {result.MaxAbsDiff:G4} over {result.Cases.Count} cases (tolerance {tol:G4}) for {files.OnnxPath}");
                return Task.FromResult(result.Passed ? SemEdgeCli.ExitOk : SemEdgeCli.ExitFailed);
            }
            catch (Exception ex) when (ex is InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
            {
                Console.Error.WriteLine($"semedge parity: {ex.Message}");
                return Task.FromResult(SemEdgeCli.ExitFailed);
            }
        });
        return command;
    }
}
