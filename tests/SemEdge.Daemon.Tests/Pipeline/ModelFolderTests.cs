using SemEdge.Imaging;
using SemEdge.Inference;
using SemEdge.Pipeline;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Hosting;

public sealed class ModelFolderTests : IDisposable
{
    private readonly TempFolder _root = new();

    public void Dispose() => _root.Dispose();

    private string Manifest(string fileName, string id, string version, string kind = ModelManifest.ClassifierKind)
    {
        var path = _root.Combine(fileName);
        new ModelManifest
        {
            Id = id,
            Kind = kind,
            Version = version,
            File = Path.ChangeExtension(fileName, ".onnx"),
            Sha256 = new string('0', 64),
            Classes = ["clean", "bridge"],
            Input = new TensorSpec { Name = "input" },
            Output = new TensorSpec { Name = "logits" },
            Preprocessing = new Preprocessing { Width = 128, Height = 128 },
        }.Save(path);
        return path;
    }

    [Fact]
    public void Configured_manifest_is_chosen_when_nothing_newer_is_there()
    {
        var configured = Manifest("classifier.int8.json", "semedge-classifier", "3");
        Manifest("other.json", "someone-else", "9");
        Manifest("screen.json", "semedge-classifier", "9", ModelManifest.ScreenKind);

        Assert.Equal(configured, new ModelFolder(configured, null).Choose().ClassifierManifest);
    }

    [Fact]
    public void Same_model_with_a_higher_version_wins_numerically()
    {
        var configured = Manifest("classifier.int8.json", "semedge-classifier", "1.9");
        var newer = Manifest("classifier-v1.10.json", "semedge-classifier", "1.10");
        Manifest("classifier-v1.2.json", "semedge-classifier", "1.2");

        Assert.Equal(newer, new ModelFolder(configured, null).Choose().ClassifierManifest);
    }

    [Fact]
    public void Half_written_manifest_is_not_a_candidate()
    {
        var configured = Manifest("classifier.int8.json", "semedge-classifier", "1");
        File.WriteAllText(_root.Combine("classifier-v2.json"), "{\"id\": \"semedge-classifier\", \"vers");

        Assert.Equal(configured, new ModelFolder(configured, null).Choose().ClassifierManifest);
    }

    [Fact]
    public void Fingerprint_changes_when_a_model_file_is_rewritten_and_identity_when_a_manifest_changes()
    {
        var configured = Manifest("classifier.int8.json", "semedge-classifier", "1");
        File.WriteAllBytes(_root.Combine("classifier.int8.onnx"), [1, 2]);
        var folder = new ModelFolder(configured, null);
        var fingerprint = folder.Fingerprint();
        var identity = ModelFolder.Identity(folder.Choose());

        File.WriteAllBytes(_root.Combine("classifier.int8.onnx"), [1, 2, 3]);
        Assert.NotEqual(fingerprint, folder.Fingerprint());
        Assert.Equal(identity, ModelFolder.Identity(folder.Choose()));

        Manifest("classifier.int8.json", "semedge-classifier", "2");
        Assert.NotEqual(identity, ModelFolder.Identity(folder.Choose()));
    }

    [Theory]
    [InlineData("2", "10", -1)]
    [InlineData("1.10", "1.9", 1)]
    [InlineData("1.0", "1", 0)]
    [InlineData("b", "a", 1)]
    public void Versions_compare_by_number_where_they_are_numbers(string a, string b, int expected)
    {
        Assert.Equal(expected, Math.Sign(ModelFolder.CompareVersions(a, b)));
    }
}
