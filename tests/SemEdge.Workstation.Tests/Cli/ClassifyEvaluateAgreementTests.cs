using System.Text.Json;
using SemEdge.Cli;
using SemEdge.Inference;
using SemEdge.Synthesis;
using SemEdge.Tests.Inference;
using SemEdge.Toolchain.Evaluation;
using SemEdge.Toolchain;

namespace SemEdge.Tests.Cli;

public class ClassifyEvaluateAgreementTests
{
    [Fact]
    public void Classify_on_a_synthetic_test_split_gives_the_same_confusion_matrix_as_evaluate()
    {
        using var dir = new TempFolder();
        new DatasetWriter(new DirectoryInfo(dir.Path), new DatasetPlan(Seed: 5, Size: 128, Train: 0, Val: 0, Test: 3, SemClasses.Names))
            .Write(progress: null, CancellationToken.None);
        var split = Path.Combine(dir.Path, "test");

        var output = new StringWriter();
        var request = new ClassifyCommand.ClassifyRequest([split], Json: true, new InferenceOptions
        {
            ClassifierManifest = Fixtures.Classifier,
            ScreenManifest = Fixtures.Screen,
            Threads = 1,
        }, NoScreen: false);
        Assert.Equal(SemEdgeCli.ExitOk, ClassifyCommand.Run(request, output, TextWriter.Null, CancellationToken.None));
        var classes = SemClasses.Names.ToList();
        var fromClassify = new long[classes.Count, classes.Count];
        var rows = 0;
        foreach (var line in output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var row = JsonDocument.Parse(line).RootElement;
            var truth = Path.GetFileName(Path.GetDirectoryName(row.GetProperty("path").GetString())!);
            fromClassify[classes.IndexOf(truth), classes.IndexOf(row.GetProperty("label").GetString()!)]++;
            rows++;
        }

        var reportDir = Path.Combine(dir.Path, "report");
        Assert.Equal(JobOutcome.Succeeded, EvaluateJob.Run(
            new EvaluateRequest(Fixtures.Classifier, split, Fixtures.Screen, reportDir, 1), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(reportDir, EvaluateJob.ReportFile)));
        var result = report.RootElement.GetProperty("cascade").GetProperty("result");
        var evaluateClasses = result.GetProperty("classes").EnumerateArray().Select(c => c.GetString()!).ToList();
        var confusion = result.GetProperty("confusion");

        Assert.Equal(30, rows);
        // Only a comparison with more than one predicted class can catch a disagreement.
        Assert.True(Enumerable.Range(0, classes.Count).Count(p => Enumerable.Range(0, classes.Count).Any(t => fromClassify[t, p] > 0)) >= 2);
        Assert.Equal(30, result.GetProperty("total").GetInt64());
        for (var t = 0; t < evaluateClasses.Count; t++)
        {
            for (var p = 0; p < evaluateClasses.Count; p++)
            {
                Assert.Equal(fromClassify[classes.IndexOf(evaluateClasses[t]), classes.IndexOf(evaluateClasses[p])], confusion[t][p].GetInt64());
            }
        }
    }
}
