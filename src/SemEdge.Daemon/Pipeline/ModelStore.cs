using Microsoft.Extensions.Logging;
using SemEdge.Decision;
using SemEdge.Inference;

namespace SemEdge.Pipeline;

/// <summary>
/// Holds the model set that decides and swaps it atomically. One set is loaded, whatever Pipeline:Workers says:
/// the decode workers only prepare images (<see cref="Prepare"/>, several at once) and the one inference stage runs
/// the models (<see cref="Infer"/>). A swap waits for every preparation and the inference in flight, which finish
/// on the old set; an image the old set prepared and the new one is to decide on is prepared again (the new models
/// may want another preprocessing); that is only the few images in flight across a swap. A candidate that fails verification (signature, class table, checksum, test
/// inference) never replaces the running set.
/// </summary>
public sealed class ModelStore(IInspectorLoader loader, ILogger<ModelStore> logger) : IDisposable
{
    // Readers: preparations and the inference; the writer: a swap. Writers go first once waiting, so a steady
    // stream of preparations cannot hold a swap off.
    private readonly ReaderWriterLockSlim _lock = new();
    private IInspector? _current;

    /// <summary><see cref="ModelFolder.Identity"/> of the manifests the current set was built from.</summary>
    public string? Identity { get; private set; }

    public ModelAnnouncement Announcement => Volatile.Read(ref _current)?.Announcement ?? throw new InvalidOperationException("no model loaded yet");

    /// <summary>Loads the first set; failure here is fatal for the daemon (there is nothing to fall back to).</summary>
    public void LoadInitial(ModelSelection selection)
    {
        var loaded = loader.Load(selection, LoadOccasion.Start);
        _lock.EnterWriteLock();
        try
        {
            _current = loaded;
            Identity = ModelFolder.Identity(selection);
        }
        finally
        {
            _lock.ExitWriteLock();
        }

        var first = loaded.Announcement;
        logger.LogInformation("Loaded model {ModelId} v{Version} (sha {Sha}), signed by {SignedBy}", first.Id, first.Version, first.Sha, first.SignedBy ?? "nobody (development start)");
        LogWhatItCannotProduce(first);
    }

    /// <summary>Reads, decodes and preprocesses an image for the current set; safe from several decode workers at once.</summary>
    /// <exception cref="Imaging.ImageRejectedException">The file is not an image the models can be run on.</exception>
    public PreparedWork Prepare(string path, CancellationToken cancellationToken)
    {
        _lock.EnterReadLock();
        try
        {
            var inspector = _current ?? throw new InvalidOperationException("no model loaded yet");
            return new PreparedWork(inspector, path, inspector.Prepare(path, cancellationToken));
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Decides on a prepared image with the current set; one caller at a time (the inference stage).</summary>
    /// <exception cref="Imaging.ImageRejectedException">Prepared again after a swap, the file is no longer readable.</exception>
    public Verdict Infer(PreparedWork prepared, string imageName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prepared);
        _lock.EnterReadLock();
        try
        {
            var inspector = _current ?? throw new InvalidOperationException("no model loaded yet");

            // Prepared by a set that has since been swapped out: the new models may want another preprocessing.
            var image = ReferenceEquals(prepared.By, inspector) ? prepared.Image : inspector.Prepare(prepared.Path, cancellationToken);
            return inspector.Infer(image, imageName);
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    /// <summary>Prepares and decides in one call (no decode workers in front), for tests and tools.</summary>
    public Verdict Inspect(string path, string imageName) => Infer(Prepare(path, CancellationToken.None), imageName, CancellationToken.None);

    /// <summary>Loads and verifies <paramref name="selection"/>, then swaps it in. False (old set kept) when refused.</summary>
    public bool TrySwap(ModelSelection selection)
    {
        IInspector candidate;
        try
        {
            candidate = loader.Load(selection, LoadOccasion.HotSwap);
        }
        catch (ModelLoadException ex)
        {
            logger.LogError(
                "Refused new model {Manifest}: {Reason}. Still running {ModelId} v{Version}",
                selection.ClassifierManifest, ex.Message, Announcement.Id, Announcement.Version);
            return false;
        }

        // Waits until no preparation or inference runs on the old set.
        IInspector? old;
        _lock.EnterWriteLock();
        try
        {
            old = _current;
            _current = candidate;
            Identity = ModelFolder.Identity(selection);
        }
        finally
        {
            _lock.ExitWriteLock();
        }

        old?.Dispose();
        var now = candidate.Announcement;
        logger.LogInformation(
            "Swapped to model {ModelId} v{Version} (sha {Sha}, {Provider}{Cascade}, signed by {SignedBy})",
            now.Id, now.Version, now.Sha, now.Provider, now.ScreenId is null ? string.Empty : $", screen {now.ScreenId}", now.SignedBy ?? "nobody");
        LogWhatItCannotProduce(now);
        return true;
    }

    /// <summary>A model lacking a table class is accepted (its numbers stay the table's), but the line should know.</summary>
    private void LogWhatItCannotProduce(ModelAnnouncement model)
    {
        if (model.Missing.Count > 0)
        {
            logger.LogWarning(
                "Model {ModelId} v{Version} cannot produce the class table's {Missing}: no verdict will carry {Numbers}",
                model.Id, model.Version, string.Join(", ", model.Missing),
                string.Join(", ", model.ClassTable.Where(e => model.Missing.Contains(e.Label)).Select(e => $"class {e.Number}")));
        }
    }

    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            _current?.Dispose();
            _current = null;
        }
        finally
        {
            _lock.ExitWriteLock();
        }

        _lock.Dispose();
    }
}

/// <summary>An image prepared by model set <see cref="By"/>, waiting for the inference stage.</summary>
public sealed record PreparedWork(IInspector By, string Path, PreparedImage Image);
