using System.Text.Json;
using SemEdge.Cli;
using SemEdge.Toolchain.Evaluation;
using SemEdge.Toolchain.Quantization;
using SemEdge.Toolchain;

namespace SemEdge.Tests.Toolchain.Evaluation;

public class EvaluateCommandTests
{
    private static string Classifier => Path.Combine(ToolchainFixtures.Dir, "mnv3.json");

    private static string Screen => Path.Combine(ToolchainFixtures.Dir, "plain.json");

    [Fact]
    public void Cascade_evaluation_reports_classifier_screen_and_end_to_end_figures()
    {
        using var temp = new TempFolder();
        var stdout = new StringWriter();
        var code = EvaluateJob.Run(new EvaluateRequest(Classifier, ToolchainFixtures.Images, Screen, temp.Path, 1), stdout, TextWriter.Null, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        using var report = JsonDocument.Parse(File.ReadAllText(temp.Combine(EvaluateJob.ReportFile)));
        var root = report.RootElement;
        Assert.Equal(30, root.GetProperty("images").GetInt32());
        var classifier = root.GetProperty("classifier");
        Assert.Equal(30, classifier.GetProperty("total").GetInt64());
        Assert.Equal(10, classifier.GetProperty("perClass").GetArrayLength());
        Assert.InRange(classifier.GetProperty("accuracy").GetDouble(), 0.9, 1.0);
        Assert.True(classifier.GetProperty("latencyMs").GetProperty("p99").GetDouble() > 0);
        var cascade = root.GetProperty("cascade");
        var screen = cascade.GetProperty("screen").GetProperty("metrics");
        // The fixture screen passes the clean images and sends every defect on.
        Assert.Equal(1.0, screen.GetProperty("defectRecall").GetDouble());
        Assert.True(cascade.GetProperty("classifierSpared").GetInt64() >= 1);
        Assert.Equal(30, cascade.GetProperty("result").GetProperty("total").GetInt64());
        Assert.True(File.Exists(temp.Combine("confusion.png")));
        Assert.True(File.Exists(temp.Combine("cascade-confusion.png")));

        var text = stdout.ToString();
        Assert.Contains("Classifier alone", text);
        Assert.Contains("Cascade: end to end", text);
        Assert.Contains("Cascade: screen stage", text);
        Assert.Contains("classifier spared on", text);
        Assert.DoesNotContain("\u001b[", text);
    }

    [Fact]
    public void A_screen_alone_gets_binary_figures_at_its_threshold()
    {
        using var temp = new TempFolder();
        var code = EvaluateJob.Run(new EvaluateRequest(Screen, ToolchainFixtures.Images, null, temp.Path, 1), TextWriter.Null, TextWriter.Null, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        using var report = JsonDocument.Parse(File.ReadAllText(temp.Combine(EvaluateJob.ReportFile)));
        var screen = report.RootElement.GetProperty("screen");
        var metrics = screen.GetProperty("metrics");
        Assert.Equal(0.5, metrics.GetProperty("threshold").GetDouble(), 6);
        Assert.Equal(27, metrics.GetProperty("defectsSentOn").GetInt64() + metrics.GetProperty("defectsMissed").GetInt64());
        Assert.Equal(3, metrics.GetProperty("cleanPassed").GetInt64() + metrics.GetProperty("cleanSentOn").GetInt64());
        Assert.Equal(2, screen.GetProperty("confusion").GetArrayLength());
        Assert.False(report.RootElement.TryGetProperty("classifier", out _));
    }

    [Fact]
    public void An_int8_model_from_quantize_evaluates_through_the_runtime()
    {
        using var temp = new TempFolder();
        var int8 = temp.Combine("mnv3.int8.onnx");
        Assert.Equal(JobOutcome.Succeeded, QuantizeJob.Run(
            new QuantizeRequest(ToolchainFixtures.Mnv3, ToolchainFixtures.Images, int8, CalibrationMethod.MinMax, 99.99, 200, null),
            TextWriter.Null, TextWriter.Null, CancellationToken.None));

        var code = EvaluateJob.Run(new EvaluateRequest(temp.Combine("mnv3.int8.json"), ToolchainFixtures.Images, null, temp.Combine("eval"), 1),
            TextWriter.Null, TextWriter.Null, CancellationToken.None);

        Assert.Equal(JobOutcome.Succeeded, code);
        using var report = JsonDocument.Parse(File.ReadAllText(temp.Combine("eval/report.json")));
        Assert.Equal("int8-qdq", report.RootElement.GetProperty("format").GetString());
        Assert.InRange(report.RootElement.GetProperty("classifier").GetProperty("accuracy").GetDouble(), 0.9, 1.0);
    }

    [Fact]
    public void A_class_folder_the_model_does_not_know_is_a_usage_error()
    {
        using var temp = new TempFolder();
        Directory.CreateDirectory(temp.Combine("data/bananas"));
        File.Copy(Path.Combine(ToolchainFixtures.Images, "clean", "0.png"), temp.Combine("data/bananas/0.png"));
        var ex = Assert.Throws<JobInputException>(() => EvaluateJob.Run(
            new EvaluateRequest(Classifier, temp.Combine("data"), null, temp.Combine("out"), 1), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Contains("bananas", ex.Message);
    }

    [Theory]
    [InlineData("evaluate", "{model}")]
    [InlineData("evaluate", "{model}", "--data", "{tmp}/missing")]
    [InlineData("evaluate", "{onnx}", "--data", "{images}")]
    [InlineData("evaluate", "{tmp}/missing.json", "--data", "{images}")]
    [InlineData("evaluate", "{screen}", "--data", "{images}", "--screen", "{screen}")]
    [InlineData("evaluate", "{model}", "--data", "{images}", "--screen", "{model}")]
    [InlineData("evaluate", "{model}", "--data", "{images}", "--threads", "0")]
    public async Task Bad_evaluate_arguments_exit_with_usage_code(params string[] args)
    {
        using var temp = new TempFolder();
        var resolved = args.Select(a => a.Replace("{model}", Classifier).Replace("{screen}", Screen).Replace("{onnx}", ToolchainFixtures.Mnv3)
            .Replace("{images}", ToolchainFixtures.Images).Replace("{tmp}", temp.Path)).ToArray();
        Assert.Equal(SemEdgeCli.ExitUsage, await WorkstationCli.RunAsync([.. resolved, "--out", temp.Combine("out")], CancellationToken.None));
    }
}
