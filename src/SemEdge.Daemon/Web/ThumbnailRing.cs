using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Pipeline;

namespace SemEdge.Web;

/// <summary>
/// The live view's thumbnails: the model input of the last <see cref="Capacity"/> inspections (already decoded and
/// reduced by the pipeline), kept as 8-bit grey. A thumbnail from the archive costs about one image decode on the
/// cores that inspect; one from here costs a fast 128² PNG encode, once. Newest wins: each inspection takes the oldest
/// slot, and a verdict whose slot was taken gets its thumbnail from the archive again (rate-limited there).
/// <para>The pipeline's side (<see cref="OnModelInput"/>, on the inference stage's thread) converts the tensor into a new
/// array before it takes the lock, and holds the lock only to store one reference; the page's side holds it only to
/// scan the slots. Nothing here waits on a request.</para>
/// </summary>
public sealed class ThumbnailRing : IModelInputObserver
{
    private readonly Lock _lock = new();
    private readonly Entry?[] _slots;
    private int _next;

    public ThumbnailRing(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _slots = new Entry?[capacity];
    }

    public int Capacity => _slots.Length;

    public void OnModelInput(Verdict verdict, ReadOnlySpan<float> input, Preprocessing preprocessing, int imageWidth, int imageHeight)
    {
        var length = preprocessing.Width * preprocessing.Height;
        if (input.Length < length)
        {
            return;
        }

        // Back from (v - mean) / std to the grey level the model saw.
        var pixels = GC.AllocateUninitializedArray<byte>(length);
        var scale = preprocessing.Std * 255f;
        var offset = preprocessing.Mean * 255f;
        for (var i = 0; i < length; i++)
        {
            var level = (input[i] * scale) + offset;
            pixels[i] = level >= 255f ? (byte)255 : level > 0f ? (byte)(level + 0.5f) : (byte)0;
        }

        var entry = new Entry(verdict.Image, verdict.Timestamp, pixels, preprocessing.Width, preprocessing.Height, imageWidth, imageHeight);
        lock (_lock)
        {
            _slots[_next] = entry;
            _next = (_next + 1) % _slots.Length;
        }
    }

    /// <summary>
    /// The verdict is durable and its image archived at <paramref name="relativePath"/> (<c>DAY/ACTION/NAME</c>): from
    /// now on its thumbnail answers to that path. The inspection is found by the verdict's image name and timestamp.
    /// </summary>
    public void Attach(Verdict durable, string? relativePath)
    {
        if (relativePath is null)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var entry in Newest())
            {
                if (entry.Timestamp == durable.Timestamp && string.Equals(entry.Image, durable.Image, StringComparison.Ordinal))
                {
                    entry.Path = relativePath;
                    return;
                }
            }
        }
    }

    /// <summary>The thumbnail (PNG, at most the model's size a side, the image's aspect) of an archived image still in the ring; else null.</summary>
    public byte[]? Png(string relativePath)
    {
        Entry? found = null;
        lock (_lock)
        {
            foreach (var entry in Newest())
            {
                if (string.Equals(entry.Path, relativePath, StringComparison.Ordinal))
                {
                    found = entry;
                    break;
                }
            }
        }

        // Encoded outside the lock, once; two requests racing here encode the same bytes.
        return found is null ? null : found.Png ??= found.Encode();
    }

    /// <summary>The filled slots, newest first; call under the lock.</summary>
    private IEnumerable<Entry> Newest()
    {
        for (var i = 1; i <= _slots.Length; i++)
        {
            if (_slots[(_next - i + _slots.Length) % _slots.Length] is { } entry)
            {
                yield return entry;
            }
        }
    }

    private sealed class Entry(string image, DateTimeOffset timestamp, byte[] pixels, int width, int height, int imageWidth, int imageHeight)
    {
        public string Image { get; } = image;

        public DateTimeOffset Timestamp { get; } = timestamp;

        public string? Path { get; set; }

        public byte[]? Png { get; set; }

        /// <summary>The model input is squeezed to the model's square; the thumbnail gets the image's aspect back.</summary>
        public byte[] Encode()
        {
            var scale = Math.Min(width / (double)Math.Max(1, imageWidth), height / (double)Math.Max(1, imageHeight));
            var w = Math.Clamp((int)Math.Round(imageWidth * scale), 1, width);
            var h = Math.Clamp((int)Math.Round(imageHeight * scale), 1, height);
            var grey = w == width && h == height ? pixels : Grey8Pixels.AreaResize(pixels, width, height, w, h);
            return PngGray.Encode(grey, w, h, fast: true);
        }
    }
}
