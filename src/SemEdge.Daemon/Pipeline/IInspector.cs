using SemEdge.Decision;
using SemEdge.Inference;

namespace SemEdge.Pipeline;

/// <summary>
/// The inference core as the pipeline sees it, in two steps: <see cref="Prepare"/> (read, decode, preprocess) runs
/// on the decode workers, several at once; <see cref="Infer"/> (screen, classify, decide) runs in the one inference
/// stage, one image at a time in claim order. One instance is one loaded model set; a hot swap replaces the
/// instance, never its insides.
/// </summary>
public interface IInspector : IDisposable
{
    /// <summary>What the retained MQTT <c>model</c> topic says about the models deciding.</summary>
    ModelAnnouncement Announcement { get; }

    /// <summary>Reads, decodes and preprocesses <paramref name="path"/> for this model set. Safe to call from several threads at once.</summary>
    /// <exception cref="Imaging.ImageRejectedException">The file is not an image this inspector can read.</exception>
    PreparedImage Prepare(string path, CancellationToken cancellationToken);

    /// <summary>
    /// Decides on an image this instance prepared; the verdict names the image <paramref name="imageName"/>, Seq unset.
    /// One caller at a time. The image belongs to the inspector again afterwards (its buffers are reused).
    /// </summary>
    Verdict Infer(PreparedImage image, string imageName);
}

/// <summary>Loads, verifies and warms a model set; the hot swap calls it for every candidate.</summary>
public interface IInspectorLoader
{
    /// <param name="occasion">Start-up or hot swap: only start-up may be relaxed (the development switch for unsigned models).</param>
    /// <exception cref="Inference.ModelLoadException">The models fail verification; nothing is left loaded.</exception>
    IInspector Load(ModelSelection selection, LoadOccasion occasion);
}

/// <summary>Why a model set is being loaded.</summary>
public enum LoadOccasion
{
    Start,
    HotSwap,
}

/// <summary>The manifests a model set is built from; <see cref="ScreenManifest"/> null means no cascade.</summary>
public sealed record ModelSelection(string ClassifierManifest, string? ScreenManifest);
