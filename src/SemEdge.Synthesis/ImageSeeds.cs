namespace SemEdge.Synthesis;

/// <summary>The split an image belongs to. Drop mode has its own so its images never repeat a dataset's.</summary>
public enum DatasetSplit
{
    Train = 0,
    Val = 1,
    Test = 2,
    Drop = 3,
}

/// <summary>
/// Derives one image's seed from (run seed, split, class, index). The fields are packed into distinct bit
/// ranges and then passed through a bijective mixer, so two different tuples can never share a seed: the
/// train, val and test splits are disjoint by construction, not by luck.
/// </summary>
public static class ImageSeeds
{
    public const int MaxIndex = (1 << 24) - 1;

    public static ulong Derive(int runSeed, DatasetSplit split, int classIndex, int index)
    {
        if ((uint)classIndex > 15)
        {
            throw new ArgumentOutOfRangeException(nameof(classIndex));
        }
        if ((uint)index > MaxIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"at most {MaxIndex} images per class");
        }
        var packed = ((ulong)(uint)runSeed << 32) | ((ulong)split << 28) | ((ulong)classIndex << 24) | (uint)index;
        return SynthRandom.Mix(packed);
    }
}

/// <summary>Small helpers for split names on disk.</summary>
public static class DatasetSplits
{
    public static string FolderName(DatasetSplit split) => split switch
    {
        DatasetSplit.Train => "train",
        DatasetSplit.Val => "val",
        DatasetSplit.Test => "test",
        DatasetSplit.Drop => "drop",
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };
}
