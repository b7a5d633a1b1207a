using System.Text.Json;
using System.Text.Json.Serialization;

namespace SemEdge.Toolchain.Evaluation;

/// <summary>
/// Inputs and the logits the training framework computed for them, written by the trainer as
/// <c>NAME.parity.json</c>: <c>{"inputShape":[1,1,128,128],"cases":[{"input":[...],"logits":[...]}]}</c>.
/// The inputs are already preprocessed; parity checks the exported graph, not the image pipeline.
/// </summary>
public sealed record ParityReference
{
    public required IReadOnlyList<long> InputShape { get; init; }

    public required IReadOnlyList<ParityCase> Cases { get; init; }

    public static ParityReference Load(string path)
    {
        ParityReference? reference;
        try
        {
            using var stream = File.OpenRead(path);
            reference = JsonSerializer.Deserialize(stream, ParityJsonContext.Default.ParityReference);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a parity reference ({ex.Message})", ex);
        }

        if (reference is null || reference.Cases.Count == 0)
        {
            throw new InvalidDataException($"{path}: the parity reference has no cases");
        }

        var length = reference.InputShape.Aggregate(1L, (a, b) => a * b);
        for (var i = 0; i < reference.Cases.Count; i++)
        {
            if (reference.Cases[i].Input.Count != length)
            {
                throw new InvalidDataException(
                    $"{path}: case {i} has {reference.Cases[i].Input.Count} input values, the shape [{string.Join(",", reference.InputShape)}] needs {length}");
            }
        }

        return reference;
    }
}

public sealed record ParityCase
{
    public required IReadOnlyList<float> Input { get; init; }

    public required IReadOnlyList<float> Logits { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(ParityReference))]
internal sealed partial class ParityJsonContext : JsonSerializerContext;
