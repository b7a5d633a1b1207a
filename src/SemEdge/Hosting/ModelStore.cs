using Microsoft.Extensions.Logging;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Publishing;

namespace SemEdge.Hosting;

/// <summary>
/// Holds the model set that decides and swaps it atomically. A swap waits for the inspection in flight, which
/// finishes on the old models; the next image sees the new ones. A candidate that fails verification (signature,
/// class table, checksum, test inference) never replaces the running set.
/// </summary>
public sealed class ModelStore(IInspectorLoader loader, ILogger<ModelStore> logger) : IDisposable
{
    private readonly Lock _inspecting = new();
    private IInspector? _current;

    /// <summary><see cref="ModelFolder.Identity"/> of the manifests the current set was built from.</summary>
    public string? Identity { get; private set; }

    public ModelAnnouncement Announcement
    {
        get
        {
            lock (_inspecting)
            {
                return Current.Announcement;
            }
        }
    }

    private IInspector Current => _current ?? throw new InvalidOperationException("no model loaded yet");

    /// <summary>Loads the first set; failure here is fatal for the daemon (there is nothing to fall back to).</summary>
    public void LoadInitial(ModelSelection selection)
    {
        var inspector = loader.Load(selection, LoadOccasion.Start);
        lock (_inspecting)
        {
            _current = inspector;
            Identity = ModelFolder.Identity(selection);
        }

        var loaded = inspector.Announcement;
        logger.LogInformation("Loaded model {ModelId} v{Version} (sha {Sha}), signed by {SignedBy}", loaded.Id, loaded.Version, loaded.Sha, loaded.SignedBy ?? "nobody (development start)");
        LogWhatItCannotProduce(loaded);
    }

    /// <summary>Inspects with the current set; a swap cannot happen while this runs.</summary>
    public Verdict Inspect(string path, string imageName)
    {
        lock (_inspecting)
        {
            return Current.Inspect(path, imageName);
        }
    }

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

        IInspector? old;
        lock (_inspecting)
        {
            old = _current;
            _current = candidate;
            Identity = ModelFolder.Identity(selection);
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
        lock (_inspecting)
        {
            _current?.Dispose();
            _current = null;
        }
    }
}
