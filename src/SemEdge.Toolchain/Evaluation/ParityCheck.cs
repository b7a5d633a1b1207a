using Microsoft.ML.OnnxRuntime;
using SemEdge.Inference;

namespace SemEdge.Toolchain.Evaluation;

public sealed record ParityCaseResult(int Case, float MaxAbsDiff, int ReferenceTop1, int ModelTop1);

public sealed record ParityResult(IReadOnlyList<ParityCaseResult> Cases, float Tolerance)
{
    public float MaxAbsDiff => Cases.Max(c => c.MaxAbsDiff);

    public bool Passed => MaxAbsDiff <= Tolerance;
}

/// <summary>Runs a parity reference's inputs through ONNX Runtime and compares with the reference logits.</summary>
public static class ParityCheck
{
    public static ParityResult Run(string modelPath, ParityReference reference, float tolerance, CancellationToken cancellationToken)
    {
        // Default (full) optimisation: the graph as the runtime will execute it.
        using var session = new InferenceSession(modelPath);
        if (session.InputNames.Count != 1 || session.OutputNames.Count < 1)
        {
            throw new InvalidDataException($"{modelPath}: expected one input and a logits output");
        }

        var shape = reference.InputShape.ToArray();
        var results = new List<ParityCaseResult>();
        using var runOptions = new RunOptions();
        for (var i = 0; i < reference.Cases.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var expected = reference.Cases[i].Logits;
            using var input = OrtValue.CreateTensorValueFromMemory(reference.Cases[i].Input.ToArray(), shape);
            using var outputs = session.Run(runOptions, [session.InputNames[0]], [input], [session.OutputNames[0]]);
            var actual = outputs[0].GetTensorDataAsSpan<float>();
            if (actual.Length != expected.Count)
            {
                throw new InvalidDataException($"case {i}: the model gives {actual.Length} logits, the reference {expected.Count}");
            }

            var max = 0f;
            for (var k = 0; k < actual.Length; k++)
            {
                // NaN on either side must fail, so compare with a form where NaN propagates to the maximum.
                var d = Math.Abs(actual[k] - expected[k]);
                max = float.IsNaN(d) ? float.PositiveInfinity : Math.Max(max, d);
            }

            results.Add(new ParityCaseResult(i, max, LogitMath.ArgMax([.. expected]), LogitMath.ArgMax(actual)));
        }

        return new ParityResult(results, tolerance);
    }
}
