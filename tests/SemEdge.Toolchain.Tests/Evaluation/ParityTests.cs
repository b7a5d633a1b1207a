using System.Text.Json;
using System.Text.Json.Nodes;
using SemEdge.Cli;
using SemEdge.Toolchain.Evaluation;

namespace SemEdge.Tests.Toolchain.Evaluation;

public class ParityTests
{
    private static string Reference => Path.Combine(ToolchainFixtures.Dir, "mnv3.parity.json");

    private static string Manifest => Path.Combine(ToolchainFixtures.Dir, "mnv3.json");

    [Fact]
    public async Task Parity_passes_for_the_torch_reference_of_the_same_model()
    {
        var result = ParityCheck.Run(ToolchainFixtures.Mnv3, ParityReference.Load(Reference), 1e-4f, CancellationToken.None);
        Assert.True(result.Passed, $"max diff {result.MaxAbsDiff}");
        Assert.Equal(2, result.Cases.Count);
        Assert.All(result.Cases, c => Assert.Equal(c.ReferenceTop1, c.ModelTop1));
        Assert.Equal(SemEdgeCli.ExitOk, await WorkstationCli.RunAsync(["parity", Manifest, "--reference", Reference], CancellationToken.None));
    }

    [Fact]
    public async Task Parity_fails_when_a_reference_logit_is_perturbed()
    {
        using var temp = new TempFolder();
        var json = JsonNode.Parse(File.ReadAllText(Reference))!;
        var logits = json["cases"]![1]!["logits"]!.AsArray();
        logits[4] = logits[4]!.GetValue<float>() + 0.01f;
        File.WriteAllText(temp.Combine("ref.json"), json.ToJsonString());

        var result = ParityCheck.Run(ToolchainFixtures.Mnv3, ParityReference.Load(temp.Combine("ref.json")), 1e-4f, CancellationToken.None);
        Assert.False(result.Passed);
        Assert.InRange(result.Cases[1].MaxAbsDiff, 0.009f, 0.011f);
        Assert.Equal(SemEdgeCli.ExitFailed,
            await WorkstationCli.RunAsync(["parity", Manifest, "--reference", temp.Combine("ref.json")], CancellationToken.None));
    }

    [Fact]
    public async Task A_model_file_that_does_not_match_its_manifest_fails()
    {
        using var temp = new TempFolder();
        File.Copy(ToolchainFixtures.Plain, temp.Combine("mnv3.onnx"));
        File.Copy(Manifest, temp.Combine("mnv3.json"));
        Assert.Equal(SemEdgeCli.ExitFailed,
            await WorkstationCli.RunAsync(["parity", temp.Combine("mnv3.json"), "--reference", Reference], CancellationToken.None));
    }

    [Theory]
    [InlineData("parity", "{model}")]
    [InlineData("parity", "{model}", "--reference", "{tmp}/missing.json")]
    [InlineData("parity", "{tmp}/missing.onnx", "--reference", "{ref}")]
    [InlineData("parity", "{model}", "--reference", "{ref}", "--tolerance", "-1")]
    [InlineData("parity", "{model}", "--reference", "{ref}", "--tolerance", "abc")]
    public async Task Bad_parity_arguments_exit_with_usage_code(params string[] args)
    {
        using var temp = new TempFolder();
        var resolved = args.Select(a => a.Replace("{model}", Manifest).Replace("{ref}", Reference).Replace("{tmp}", temp.Path)).ToArray();
        Assert.Equal(SemEdgeCli.ExitUsage, await WorkstationCli.RunAsync(resolved, CancellationToken.None));
    }

    [Fact]
    public void A_reference_whose_inputs_do_not_fill_the_shape_is_rejected()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.Combine("bad.json"), JsonSerializer.Serialize(new { inputShape = new[] { 1, 1, 2, 2 }, cases = new[] { new { input = new[] { 1f }, logits = new[] { 0f } } } }));
        Assert.Throws<InvalidDataException>(() => ParityReference.Load(temp.Combine("bad.json")));
    }
}
