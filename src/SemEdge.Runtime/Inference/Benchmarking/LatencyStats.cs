namespace SemEdge.Inference.Benchmarking;

/// <summary>Median, 99th percentile and mean of a set of timings in milliseconds (nearest-rank percentiles).</summary>
public sealed record LatencyStats(double P50, double P99, double Mean, int Count)
{
    public static LatencyStats Of(IReadOnlyCollection<double> samples)
    {
        if (samples.Count == 0)
        {
            return new LatencyStats(double.NaN, double.NaN, double.NaN, 0);
        }

        var sorted = samples.Order().ToArray();
        return new LatencyStats(Percentile(sorted, 50), Percentile(sorted, 99), sorted.Average(), sorted.Length);
    }

    /// <summary>Nearest-rank percentile of an ascending array.</summary>
    public static double Percentile(double[] sorted, double percent)
    {
        var rank = (int)Math.Ceiling(percent / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
