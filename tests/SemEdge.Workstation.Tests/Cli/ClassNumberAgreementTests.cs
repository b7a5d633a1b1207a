using System.Text.Json;
using SemEdge.Cli;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Tests.Inference;
using SemEdge.Toolchain.Evaluation;
using SemEdge.Toolchain;

namespace SemEdge.Tests.Cli;

public class ClassNumberAgreementTests
{
    [Fact]
    public void Classify_json_and_evaluate_give_the_class_table_numbers_for_a_model_in_another_order()
    {
        using var dir = new TempFolder();
        var model = TestModels.Classifier(Path.Combine(dir.Path, "model"), "classifier", TestModels.Reordered);
        Assert.NotEqual(8, ModelManifest.Load(model).Classes.ToList().IndexOf("vias"));
        var data = Path.Combine(dir.Path, "test");
        for (var cell = 0; cell < ClassTable.DefaultNames.Count; cell++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(data, ClassTable.DefaultNames[cell])).FullName;
            File.WriteAllBytes(Path.Combine(folder, "0.png"), Fixtures.GridPng(TestModels.Background, cell));
        }

        var output = new StringWriter();
        var request = new ClassifyCommand.ClassifyRequest([data], Json: true,
            new InferenceOptions { ClassifierManifest = model, Threads = 1 }, NoScreen: true);
        Assert.Equal(SemEdgeCli.ExitOk, ClassifyCommand.Run(request, output, TextWriter.Null, CancellationToken.None));
        var fromClassify = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToDictionary(j => j.GetProperty("label").GetString()!, j => j.GetProperty("classId").GetInt32());

        var reportDir = Path.Combine(dir.Path, "report");
        Assert.Equal(JobOutcome.Succeeded, EvaluateJob.Run(new EvaluateRequest(model, data, null, reportDir, 1), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(reportDir, EvaluateJob.ReportFile)));
        var fromEvaluate = report.RootElement.GetProperty("classNumbers").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());

        var table = ClassTable.DefaultNames.Select((label, number) => (label, number)).ToDictionary(p => p.label, p => p.number);
        Assert.Equal(table.OrderBy(kv => kv.Key), fromClassify.OrderBy(kv => kv.Key));
        Assert.Equal(table.OrderBy(kv => kv.Key), fromEvaluate.OrderBy(kv => kv.Key));
        // And evaluate still scored each image against its own class (the model's index, not the table's).
        Assert.Equal(1.0, report.RootElement.GetProperty("classifier").GetProperty("accuracy").GetDouble());
    }
}
