namespace SemEdge.Diagnostics;

/// <summary>Runs every check of <c>semedge doctor</c> in the order a technician would fix things.</summary>
public static class Doctor
{
    public static async Task<IReadOnlyList<CheckResult>> RunAsync(DoctorContext context, TimeProvider time, CancellationToken cancellationToken)
    {
        var results = new List<CheckResult>();
        results.AddRange(ConfigCheck.Run(context));
        results.AddRange(await ModelCheck.RunAsync(context, cancellationToken));
        results.AddRange(AcceleratorCheck.Run(context));
        results.AddRange(GpioCheck.Run(context));
        results.AddRange(await BrokerCheck.RunAsync(context, time, cancellationToken));
        results.AddRange(FolderCheck.Run(context));
        results.Add(GraphCacheCheck.Run(context));
        return results;
    }
}
