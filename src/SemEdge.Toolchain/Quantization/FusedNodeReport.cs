using Microsoft.ML.OnnxRuntime;
using SemEdge.Toolchain.Onnx;

namespace SemEdge.Toolchain.Quantization;

/// <summary>
/// What ONNX Runtime actually makes of a QDQ model: loads it with graph optimisation on, has ORT write the
/// optimised graph to a file, and counts its node types (QLinearConv, QGemm, QLinearAdd, ...).
/// </summary>
internal static class FusedNodeReport
{
    public static IReadOnlyDictionary<string, int> Count(string modelPath,
        GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    {
        var optimized = Path.Combine(Path.GetTempPath(), $"semedge-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = optimized })
            using (new InferenceSession(modelPath, options))
            {
            }

            return CountOps(OnnxModelFile.Load(optimized));
        }
        finally
        {
            File.Delete(optimized);
        }
    }

    public static IReadOnlyDictionary<string, int> CountOps(ModelProto model) =>
        model.Graph.Node.GroupBy(n => n.OpType, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}
