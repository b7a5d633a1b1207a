using SemEdge.Imaging;

namespace SemEdge.Inference;

/// <summary>
/// The model-free half of an inspection: read the file, decode it, preprocess it for each model input. The daemon
/// runs several preparers at once (its decode workers) in front of one inference stage. The file buffer, the
/// decoded pixels and the preprocessors' scratch buffers are kept between images. Not thread-safe: one per worker.
/// </summary>
public sealed class ImagePreparer
{
    private readonly ImageDecoder _decoder;
    private readonly DecodedImage _image = new();
    private readonly Preprocessor[] _preprocessors;
    private readonly TimeProvider _time;
    private readonly long _maxFileBytes;
    private byte[] _file = [];

    /// <param name="inputs">The preprocessing of every model input, distinct (e.g. <see cref="Cascade.Inputs"/>).</param>
    public ImagePreparer(IReadOnlyList<Preprocessing> inputs, long maxPixels = ImageDecoder.DefaultMaxPixels, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Inputs = [.. inputs];
        _preprocessors = [.. Inputs.Select(spec => new Preprocessor(spec))];
        _decoder = new ImageDecoder(maxPixels);
        _time = time ?? TimeProvider.System;

        // The largest honest file is an uncompressed 16-bit RGBA TIFF at the pixel limit, plus headers.
        _maxFileBytes = Math.Min(Array.MaxLength, (maxPixels * 8) + (16 << 20));
    }

    public IReadOnlyList<Preprocessing> Inputs { get; }

    /// <summary>Reads, decodes and preprocesses the image file at <paramref name="path"/> into <paramref name="into"/>.</summary>
    /// <exception cref="ImageRejectedException">The file is not an image SemEdge can inspect.</exception>
    public void PrepareFile(string path, PreparedImage into, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var t0 = _time.GetTimestamp();
        var length = ReadFile(path);
        var readMs = _time.GetElapsedTime(t0).TotalMilliseconds;
        Prepare(_file.AsMemory(0, length), into, readMs, cancellationToken);
    }

    /// <summary>Decodes and preprocesses an image held in memory into <paramref name="into"/>.</summary>
    /// <exception cref="ImageRejectedException">The bytes are not an image SemEdge can inspect.</exception>
    public void Prepare(ReadOnlyMemory<byte> data, PreparedImage into, CancellationToken cancellationToken = default) =>
        Prepare(data, into, 0, cancellationToken);

    private void Prepare(ReadOnlyMemory<byte> data, PreparedImage into, double readMs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(into);
        cancellationToken.ThrowIfCancellationRequested();
        var t0 = _time.GetTimestamp();
        into.Format = _decoder.Decode(data, _image);
        var t1 = _time.GetTimestamp();
        cancellationToken.ThrowIfCancellationRequested();
        for (var i = 0; i < _preprocessors.Length; i++)
        {
            _preprocessors[i].Run(_image, into.Target(i, Inputs[i]));
        }

        into.Keep(_preprocessors.Length);
        into.Width = _image.Width;
        into.Height = _image.Height;
        into.ReadMs = readMs;
        into.DecodeMs = _time.GetElapsedTime(t0, t1).TotalMilliseconds;
        into.PreprocessMs = _time.GetElapsedTime(t1).TotalMilliseconds;
    }

    private int ReadFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var length = RandomAccess.GetLength(handle);
        if (length > _maxFileBytes)
        {
            throw new ImageRejectedException(ImageRejectReason.TooLarge,
                $"the file is {length} bytes, more than any image within the pixel limit can need ({_maxFileBytes})");
        }

        if (_file.Length < length)
        {
            _file = GC.AllocateUninitializedArray<byte>((int)length);
        }

        var total = 0;
        while (total < length)
        {
            var n = RandomAccess.Read(handle, _file.AsSpan(total, (int)length - total), total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
