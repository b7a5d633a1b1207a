using System.Text.Json;
using System.Text.Json.Serialization;
using SemEdge.Imaging;

namespace SemEdge.Inference;

/// <summary>
/// The JSON file that ships beside every model (<c>models/NAME.json</c>). Training writes it, <c>semedge quantize</c>
/// rewrites it for the INT8 file, and the runtime reads it to know the classes, the input and the exact
/// preprocessing. The contract for preprocessing, shared by the C# runtime and the Python trainer:
/// <list type="number">
/// <item>Decode to one channel in [0,1]: 8-bit grey v/255, 16-bit grey v/65535, colour by BT.601 luma
/// (0.299 R + 0.587 G + 0.114 B)/255; a pixel with alpha is composited over black (grey × alpha).</item>
/// <item>Resize to width×height by area averaging ("area": each output pixel is the area-weighted mean of the
/// source pixels under its footprint; separable; the aspect ratio is not kept).</item>
/// <item>Normalise: x = (v − mean) / std.</item>
/// </list>
/// </summary>
public sealed record ModelManifest
{
    public const int CurrentSchema = 1;

    public int Schema { get; init; } = CurrentSchema;

    /// <summary>Stable model identifier, e.g. <c>semedge-classifier</c>.</summary>
    public required string Id { get; init; }

    /// <summary><c>classifier</c> (the classes below) or <c>screen</c> (classes <c>clean</c>, <c>defect</c>).</summary>
    public required string Kind { get; init; }

    public string Version { get; init; } = "0";

    /// <summary>The ONNX file, relative to the manifest's folder.</summary>
    public required string File { get; init; }

    /// <summary>Lower-case hex SHA-256 of <see cref="File"/>; verified before a model is loaded.</summary>
    public required string Sha256 { get; init; }

    /// <summary><c>fp32</c> or <c>int8-qdq</c>.</summary>
    public string Format { get; init; } = "fp32";

    /// <summary>Class labels in logit order.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    public required TensorSpec Input { get; init; }

    public required TensorSpec Output { get; init; }

    public required Preprocessing Preprocessing { get; init; }

    /// <summary>Screen only: P(defect) at or above this sends the image to the classifier.</summary>
    public float? DefectThreshold { get; init; }

    /// <summary>
    /// Softmax temperature fitted on the validation split (temperature scaling): probabilities are
    /// softmax(logits / T), so a confidence of 0.9 is right about 90 % of the time. Absent: 1 (raw softmax).
    /// </summary>
    public float? Temperature { get; init; }

    /// <summary>
    /// Test-time augmentation: <c>none</c> (absent) or <c>d4</c>, the logits averaged over the 8 flips and quarter
    /// turns of the input (8 inferences per image; square inputs only).
    /// </summary>
    public string? Tta { get; init; }

    public const string TtaNone = "none";
    public const string TtaD4 = "d4";

    /// <summary>Free-form provenance: data seed, epochs, training time, toolchain versions.</summary>
    public Dictionary<string, JsonElement>? Training { get; init; }

    /// <summary>Free-form figures measured on the held-out test split.</summary>
    public Dictionary<string, JsonElement>? Metrics { get; init; }

    public const string ClassifierKind = "classifier";
    public const string ScreenKind = "screen";

    public static ModelManifest Load(string path)
    {
        using var stream = System.IO.File.OpenRead(path);
        return JsonSerializer.Deserialize(stream, ManifestJsonContext.Default.ModelManifest)
            ?? throw new InvalidDataException($"{path}: empty model manifest");
    }

    /// <summary>Parses manifest bytes already read (the bytes a signature was checked over).</summary>
    public static ModelManifest Parse(ReadOnlySpan<byte> json, string source) =>
        JsonSerializer.Deserialize(json, ManifestJsonContext.Default.ModelManifest)
            ?? throw new InvalidDataException($"{source}: empty model manifest");

    /// <summary>The canonical JSON of this manifest: two manifests with equal text describe the same model.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ManifestJsonContext.Default.ModelManifest);

    public void Save(string path)
    {
        var json = JsonSerializer.Serialize(this, ManifestJsonContext.Default.ModelManifest);
        System.IO.File.WriteAllText(path, json + "\n");
    }

    /// <summary>The model file's full path, resolved against the manifest's folder.</summary>
    public string ResolveModelPath(string manifestPath) =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, File));
}

public sealed record TensorSpec
{
    public required string Name { get; init; }

    public IReadOnlyList<int>? Shape { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelManifest))]
internal sealed partial class ManifestJsonContext : JsonSerializerContext;
