namespace SemEdge.Diagnostics;

/// <summary>The NPU compiled-graph cache: without it every start pays the ~40 s graph compile.</summary>
public static class GraphCacheCheck
{
    public const string Area = "graph-cache";

    public static CheckResult Run(DoctorContext context)
    {
        if (context.Inference.Value is not { } inference)
        {
            return CheckResult.Fail(Area, "not checked: the Inference section is invalid (see config)");
        }

        if (inference.Accelerator == "cpu")
        {
            return CheckResult.Pass(Area, "not used: the models run on the CPU");
        }

        if (string.IsNullOrWhiteSpace(inference.GraphCacheDir))
        {
            return CheckResult.Warn(Area, "Inference:GraphCacheDir is not set: the NPU graph is compiled again on every start (40 s and more)");
        }

        var dir = Path.GetFullPath(inference.GraphCacheDir);
        if (!Directory.Exists(dir))
        {
            return CheckResult.Warn(Area, $"{dir} does not exist yet: the first start creates it and compiles the graph (40 s and more)");
        }

        if (FolderCheck.NotWritableReason(dir) is { } reason)
        {
            return CheckResult.Fail(Area, $"{dir} is not writable: {reason}; compiled graphs cannot be kept");
        }

        var cached = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Count();
        return CheckResult.Pass(Area, cached == 0
            ? $"{dir} is writable and empty (the next start compiles the graph and fills it)"
            : $"{dir} is writable and holds {cached} compiled graph file(s)");
    }
}
