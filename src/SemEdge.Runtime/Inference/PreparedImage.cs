using SemEdge.Imaging;

namespace SemEdge.Inference;

/// <summary>
/// One image read, decoded and preprocessed into the input tensor of every model of a cascade (one tensor per
/// distinct <see cref="Preprocessing"/>), ready for <see cref="Cascade.Run(PreparedImage)"/>. Only the tensors are
/// kept, not the pixels, so an image waiting for the inference stage holds a few tens of kilobytes. Made by an
/// <see cref="ImagePreparer"/>; reusable (the tensors are overwritten by the next preparation).
/// </summary>
public sealed class PreparedImage
{
    private readonly List<(Preprocessing Spec, float[] Tensor)> _inputs = [];

    public ImageFormat Format { get; internal set; }

    public int Width { get; internal set; }

    public int Height { get; internal set; }

    /// <summary>Reading the file (0 when bytes were passed in).</summary>
    public double ReadMs { get; internal set; }

    public double DecodeMs { get; internal set; }

    public double PreprocessMs { get; internal set; }

    /// <summary>Whether there is a tensor for every one of <paramref name="inputs"/> (false after a model swap to another preprocessing).</summary>
    public bool HasInputsFor(IReadOnlyList<Preprocessing> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        foreach (var spec in inputs)
        {
            if (Find(spec) < 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The model input made with <paramref name="spec"/>.</summary>
    /// <exception cref="InvalidOperationException">This image was not prepared for <paramref name="spec"/>.</exception>
    public ReadOnlySpan<float> Input(Preprocessing spec)
    {
        var index = Find(spec);
        return index >= 0
            ? _inputs[index].Tensor.AsSpan(0, spec.Width * spec.Height)
            : throw new InvalidOperationException($"the image was not prepared for a {spec.Width}x{spec.Height} input ({spec})");
    }

    /// <summary>The tensor to write for input <paramref name="index"/>; grows only, so a steady stream allocates nothing.</summary>
    internal Span<float> Target(int index, Preprocessing spec)
    {
        var length = spec.Width * spec.Height;
        if (index == _inputs.Count)
        {
            _inputs.Add((spec, new float[length]));
        }
        else if (_inputs[index].Spec != spec || _inputs[index].Tensor.Length < length)
        {
            _inputs[index] = (spec, _inputs[index].Tensor.Length >= length ? _inputs[index].Tensor : new float[length]);
        }

        return _inputs[index].Tensor.AsSpan(0, length);
    }

    /// <summary>Forgets inputs beyond <paramref name="count"/> (a preparer with fewer inputs reused this image).</summary>
    internal void Keep(int count)
    {
        if (_inputs.Count > count)
        {
            _inputs.RemoveRange(count, _inputs.Count - count);
        }
    }

    private int Find(Preprocessing spec)
    {
        for (var i = 0; i < _inputs.Count; i++)
        {
            if (_inputs[i].Spec == spec)
            {
                return i;
            }
        }

        return -1;
    }
}
