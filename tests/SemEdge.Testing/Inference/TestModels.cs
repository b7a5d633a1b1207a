using Google.Protobuf;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Signing;
using SemEdge.Toolchain.Onnx;

namespace SemEdge.Tests.Inference;

/// <summary>
/// Real ONNX classifiers built for a test from the fixture classifier (tests/fixtures/models: logit[i] = 8 * cell
/// of the 4x4 grid), with their classes in any order or with some left out, and a signing key for the test run.
/// Image <see cref="Fixtures.GridPng"/>(200, c) lights cell c, which every model built here answers with
/// <see cref="ClassTable.DefaultNames"/>[c], whatever its own class order: only the logit index moves.
/// </summary>
internal static class TestModels
{
    /// <summary>One key for the whole test run, made in memory: tests trust it explicitly, nothing else does.</summary>
    public static PrivateSigningKey Key { get; } = PrivateSigningKey.Generate("tests");

    /// <summary>The daemon setting that trusts <see cref="Key"/>.</summary>
    public static string TrustSetting => $"--Inference:TrustedKeys:tests={Key.Public.ToBase64()}";

    /// <summary>A background bright enough that the fixture screen sends the image on to the classifier.</summary>
    public const byte Background = 200;

    public static string Sign(string manifest) => DetachedSignature.Sign(manifest, DetachedSignature.ModelManifestPurpose, Key);

    /// <summary>
    /// Writes <paramref name="manifest"/> to <paramref name="path"/> the way a careful engineer installs a model in a
    /// watched folder: the signature first, the manifest last (renamed in), so a hot swap never sees it unsigned.
    /// </summary>
    public static string Install(ModelManifest manifest, string path, bool sign = true)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var staging = Directory.CreateDirectory(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, ".staging")).FullName;
        var staged = Path.Combine(staging, Path.GetFileName(path));
        manifest.Save(staged);
        if (sign)
        {
            File.Move(Sign(staged), DetachedSignature.PathFor(path), overwrite: true);
        }

        File.Move(staged, path, overwrite: true);
        return path;
    }

    /// <summary>Copies a fixture model (manifest and ONNX) into <paramref name="dir"/> and signs the copy.</summary>
    public static string SignedCopy(string manifest, string dir)
    {
        var copy = Fixtures.CopyModel(manifest, dir);
        Sign(copy);
        return copy;
    }

    /// <summary>
    /// Writes a classifier whose logit k is the fixture's logit of class <paramref name="classes"/>[k] (so it
    /// answers the same images with the same labels) as <c>STEM.onnx</c> + <c>STEM.json</c> in
    /// <paramref name="dir"/>, signed with <see cref="Key"/> unless <paramref name="sign"/> is false.
    /// </summary>
    public static string Classifier(string dir, string stem, IReadOnlyList<string> classes, string version = "1", bool sign = true)
    {
        Directory.CreateDirectory(dir);
        var model = OnnxModelFile.Load(Path.ChangeExtension(Fixtures.Classifier, ".onnx"));
        var graph = model.Graph;
        var weights = graph.Initializer.Single(t => t.Name == "W");
        var bias = graph.Initializer.Single(t => t.Name == "B");
        var w = OnnxTensors.ToFloats(weights);
        var cells = (int)weights.Dims[0];
        var outputs = (int)weights.Dims[1];
        var picked = new float[cells * classes.Count];
        for (var k = 0; k < classes.Count; k++)
        {
            var source = ClassTable.DefaultNames.ToList().IndexOf(classes[k]);
            if (source < 0)
            {
                // A class the fixture never had: answers nothing in particular (a zero column).
                continue;
            }

            for (var cell = 0; cell < cells; cell++)
            {
                picked[(cell * classes.Count) + k] = w[(cell * outputs) + source];
            }
        }

        graph.Initializer.Remove(weights);
        graph.Initializer.Remove(bias);
        graph.Initializer.Add(OnnxTensors.FromFloats("W", picked, cells, classes.Count));
        graph.Initializer.Add(OnnxTensors.FromFloats("B", new float[classes.Count], classes.Count));
        var outputShape = graph.Output.Single().Type.TensorType.Shape;
        outputShape.Dim[1].DimValue = classes.Count;

        var onnx = Path.Combine(dir, stem + ".onnx");
        File.WriteAllBytes(onnx, model.ToByteArray());
        var fixture = ModelManifest.Load(Fixtures.Classifier);
        return Install(fixture with
        {
            Id = "test-classifier",
            Version = version,
            File = stem + ".onnx",
            Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(onnx))),
            Classes = [.. classes],
            Output = fixture.Output with { Shape = [1, classes.Count] },
        }, Path.Combine(dir, stem + ".json"), sign);
    }

    /// <summary>The default ten classes in another order (reversed), so every logit index but none of the labels moves.</summary>
    public static IReadOnlyList<string> Reordered => [.. ClassTable.DefaultNames.Reverse()];
}
