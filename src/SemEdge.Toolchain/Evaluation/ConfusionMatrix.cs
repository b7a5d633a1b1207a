namespace SemEdge.Toolchain.Evaluation;

/// <summary>Counts of (true class, predicted class) pairs over a labelled image set.</summary>
internal sealed class ConfusionMatrix
{
    private readonly long[,] _counts;

    public ConfusionMatrix(IReadOnlyList<string> classes)
    {
        if (classes.Count == 0)
        {
            throw new ArgumentException("a confusion matrix needs at least one class", nameof(classes));
        }

        Classes = classes;
        _counts = new long[classes.Count, classes.Count];
    }

    public IReadOnlyList<string> Classes { get; }

    public long this[int actual, int predicted] => _counts[actual, predicted];

    public long Total { get; private set; }

    public void Add(int actual, int predicted)
    {
        _counts[actual, predicted]++;
        Total++;
    }

    /// <summary>Images whose true class is <paramref name="actual"/> (the class's support).</summary>
    public long Actual(int actual)
    {
        long sum = 0;
        for (var p = 0; p < Classes.Count; p++)
        {
            sum += _counts[actual, p];
        }

        return sum;
    }

    public long Predicted(int predicted)
    {
        long sum = 0;
        for (var a = 0; a < Classes.Count; a++)
        {
            sum += _counts[a, predicted];
        }

        return sum;
    }

    public long Correct()
    {
        long sum = 0;
        for (var c = 0; c < Classes.Count; c++)
        {
            sum += _counts[c, c];
        }

        return sum;
    }

    public long[][] ToRows() =>
        Enumerable.Range(0, Classes.Count).Select(a => Enumerable.Range(0, Classes.Count).Select(p => _counts[a, p]).ToArray()).ToArray();
}
