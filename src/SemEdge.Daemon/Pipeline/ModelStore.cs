using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Inference;

namespace SemEdge.Pipeline;

/// <summary>
/// Holds the model set that decides and swaps it atomically. The set is loaded once per inspection worker
/// (Pipeline:Workers): an ONNX session and its bound buffers serve one image at a time, so each worker rents its
/// own. A swap waits for every inspection in flight, which finish on the old models; the next images see the new
/// ones. A candidate that fails verification (signature, class table, checksum, test inference) never replaces the
/// running set.
/// </summary>
public sealed class ModelStore : IDisposable
{
    private readonly IInspectorLoader _loader;
    private readonly ILogger<ModelStore> _logger;
    private readonly int _poolSize;
    private readonly SemaphoreSlim _free;
    private readonly Lock _pool = new();
    private readonly Stack<IInspector> _idle = new();
    private IInspector[] _current = [];

    public ModelStore(IInspectorLoader loader, IOptions<PipelineOptions> options, ILogger<ModelStore> logger)
        : this(loader, logger, options.Value.EffectiveWorkers)
    {
    }

    internal ModelStore(IInspectorLoader loader, ILogger<ModelStore> logger, int poolSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(poolSize, 1);
        _loader = loader;
        _logger = logger;
        _poolSize = poolSize;
        _free = new SemaphoreSlim(poolSize, poolSize);
    }

    /// <summary><see cref="ModelFolder.Identity"/> of the manifests the current set was built from.</summary>
    public string? Identity { get; private set; }

    public ModelAnnouncement Announcement
    {
        get
        {
            lock (_pool)
            {
                return _current.Length > 0 ? _current[0].Announcement : throw new InvalidOperationException("no model loaded yet");
            }
        }
    }

    /// <summary>Loads the first set; failure here is fatal for the daemon (there is nothing to fall back to).</summary>
    public void LoadInitial(ModelSelection selection)
    {
        var loaded = LoadPool(selection, LoadOccasion.Start);
        lock (_pool)
        {
            _current = loaded;
            Identity = ModelFolder.Identity(selection);
            foreach (var inspector in loaded)
            {
                _idle.Push(inspector);
            }
        }

        var first = loaded[0].Announcement;
        _logger.LogInformation("Loaded model {ModelId} v{Version} (sha {Sha}), signed by {SignedBy}", first.Id, first.Version, first.Sha, first.SignedBy ?? "nobody (development start)");
        LogWhatItCannotProduce(first);
    }

    /// <summary>Inspects with a free copy of the current set (waits for one); a swap cannot happen while this runs.</summary>
    public Verdict Inspect(string path, string imageName) => Inspect(path, imageName, out _);

    /// <summary>As <see cref="Inspect(string, string)"/>, also giving the read + decode share of the time.</summary>
    public Verdict Inspect(string path, string imageName, out double decodeMs)
    {
        _free.Wait();
        IInspector inspector;
        lock (_pool)
        {
            inspector = _idle.Count > 0 ? _idle.Pop() : throw new InvalidOperationException("no model loaded yet");
        }

        try
        {
            var verdict = inspector.Inspect(path, imageName);
            decodeMs = inspector.LastDecodeMs;
            return verdict;
        }
        finally
        {
            lock (_pool)
            {
                _idle.Push(inspector);
            }

            _free.Release();
        }
    }

    /// <summary>Loads and verifies <paramref name="selection"/>, then swaps it in. False (old set kept) when refused.</summary>
    public bool TrySwap(ModelSelection selection)
    {
        IInspector[] candidate;
        try
        {
            candidate = LoadPool(selection, LoadOccasion.HotSwap);
        }
        catch (ModelLoadException ex)
        {
            _logger.LogError(
                "Refused new model {Manifest}: {Reason}. Still running {ModelId} v{Version}",
                selection.ClassifierManifest, ex.Message, Announcement.Id, Announcement.Version);
            return false;
        }

        // Every copy idle: no inspection runs on the old set while it is replaced.
        for (var i = 0; i < _poolSize; i++)
        {
            _free.Wait();
        }

        IInspector[] old;
        try
        {
            lock (_pool)
            {
                old = _current;
                _current = candidate;
                Identity = ModelFolder.Identity(selection);
                _idle.Clear();
                foreach (var inspector in candidate)
                {
                    _idle.Push(inspector);
                }
            }
        }
        finally
        {
            _free.Release(_poolSize);
        }

        foreach (var inspector in old)
        {
            inspector.Dispose();
        }

        var now = candidate[0].Announcement;
        _logger.LogInformation(
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
            _logger.LogWarning(
                "Model {ModelId} v{Version} cannot produce the class table's {Missing}: no verdict will carry {Numbers}",
                model.Id, model.Version, string.Join(", ", model.Missing),
                string.Join(", ", model.ClassTable.Where(e => model.Missing.Contains(e.Label)).Select(e => $"class {e.Number}")));
        }
    }

    public void Dispose()
    {
        lock (_pool)
        {
            foreach (var inspector in _current)
            {
                inspector.Dispose();
            }

            _current = [];
            _idle.Clear();
        }
    }

    private IInspector[] LoadPool(ModelSelection selection, LoadOccasion occasion)
    {
        var loaded = new List<IInspector>(_poolSize);
        try
        {
            for (var i = 0; i < _poolSize; i++)
            {
                loaded.Add(_loader.Load(selection, occasion));
            }

            return [.. loaded];
        }
        catch
        {
            foreach (var inspector in loaded)
            {
                inspector.Dispose();
            }

            throw;
        }
    }
}
