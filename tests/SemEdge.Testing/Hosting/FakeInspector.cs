using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Pipeline;

namespace SemEdge.Tests.Hosting;

/// <summary>
/// An inspector seam double: answers every image with one label, optionally holding each inference until the
/// test releases it (a hung inference, or an inspection to keep in flight across a swap). Preparing reads nothing.
/// </summary>
internal sealed class FakeInspector(string version, SemaphoreSlim? gate = null) : IInspector
{
    private int _inspections;
    private int _prepared;

    public ModelAnnouncement Announcement { get; } = new("fake-classifier", version, "fake00000000", "cpu", ["clean", "bridge"], null);

    public bool Disposed { get; private set; }

    /// <summary>Inferences started.</summary>
    public int Inspections => Volatile.Read(ref _inspections);

    public int Prepared => Volatile.Read(ref _prepared);

    public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public PreparedImage Prepare(string path, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _prepared);
        return new PreparedImage();
    }

    public Verdict Infer(PreparedImage image, string imageName)
    {
        ObjectDisposedException.ThrowIf(Disposed, this);
        Interlocked.Increment(ref _inspections);
        Entered.TrySetResult();
        gate?.Wait(TimeSpan.FromSeconds(30));
        ObjectDisposedException.ThrowIf(Disposed, this);
        return Answer(imageName, Announcement);
    }

    public void Dispose() => Disposed = true;

    internal static Verdict Answer(string imageName, ModelAnnouncement model) => new()
    {
        Image = imageName,
        Timestamp = DateTimeOffset.UtcNow,
        ClassId = 1,
        Label = "bridge",
        Confidence = 0.9f,
        Action = VerdictAction.Reject,
        ModelId = model.Id,
        ModelSha = model.Sha,
        Provider = "cpu",
        LatencyMs = 1,
    };
}

/// <summary>Hands out prepared inspectors in order; a manifest path containing "bad" fails verification.</summary>
internal sealed class FakeInspectorLoader(params IInspector[] inspectors) : IInspectorLoader
{
    private int _next;

    public IInspector Load(ModelSelection selection, LoadOccasion occasion) =>
        selection.ClassifierManifest.Contains("bad", StringComparison.Ordinal)
            ? throw new ModelLoadException($"{selection.ClassifierManifest}: sha256 mismatch")
            : inspectors[Interlocked.Increment(ref _next) - 1];
}
