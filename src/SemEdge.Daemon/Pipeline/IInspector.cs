using SemEdge.Decision;
using SemEdge.Inference;

namespace SemEdge.Pipeline;

/// <summary>
/// The inference core as the pipeline sees it: one image file in, one verdict out (decode, preprocess, screen,
/// classify, decide). One instance is one loaded model set; a hot swap replaces the instance, never its insides.
/// Used by one pipeline worker at a time (the model store keeps one per worker).
/// </summary>
public interface IInspector : IDisposable
{
    /// <summary>What the retained MQTT <c>model</c> topic says about the models deciding.</summary>
    ModelAnnouncement Announcement { get; }

    /// <summary>Inspects <paramref name="path"/>; the verdict names the image <paramref name="imageName"/>, Seq unset.</summary>
    /// <exception cref="Imaging.ImageRejectedException">The file is not an image this inspector can read.</exception>
    Verdict Inspect(string path, string imageName);

    /// <summary>Read + decode time of the last <see cref="Inspect"/> (for the latency budget); NaN when unknown.</summary>
    double LastDecodeMs => double.NaN;
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
