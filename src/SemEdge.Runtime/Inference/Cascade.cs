using SemEdge.Imaging;

namespace SemEdge.Inference;

/// <summary>What the models said about one image.</summary>
/// <param name="ClassId">Index into the classifier's classes.</param>
/// <param name="Confidence">Probability of that class (the screen's P(clean) when the screen decided).</param>
/// <param name="DecidedBy">The model whose answer this is.</param>
/// <param name="ScreenRan">A screen model is configured and ran.</param>
/// <param name="ShortCircuited">The screen called the image clean, so the classifier did not run.</param>
/// <param name="DefectProbability">The screen's P(defect), or NaN without a screen.</param>
public readonly record struct CascadeResult(
    int ClassId,
    float Confidence,
    ModelSession DecidedBy,
    bool ScreenRan,
    bool ShortCircuited,
    float DefectProbability,
    double PreprocessMs,
    double InferenceMs);

/// <summary>
/// One or two models in sequence. Without a screen, the classifier answers every image. With a screen, the
/// classifier runs only when the screen's P(defect) is at least the screen manifest's DefectThreshold; otherwise
/// the answer is "clean" with the screen's confidence. Preprocessing is shared when both manifests ask for the
/// same one. Owns both sessions. Not thread-safe: one per pipeline worker.
/// </summary>
public sealed class Cascade : IDisposable
{
    private const int ScreenDefectIndex = 1;

    private readonly Preprocessor _classifierPre;
    private readonly Preprocessor? _screenPre;
    private readonly bool _sharedPreprocessing;
    private readonly int _cleanClassId;
    private readonly TimeProvider _time;

    public Cascade(ModelSession classifier, ModelSession? screen = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        Classifier = classifier;
        Screen = screen;
        _time = time ?? TimeProvider.System;
        if (classifier.Manifest.Kind != ModelManifest.ClassifierKind)
        {
            throw new ModelLoadException($"{classifier.ManifestPath}: kind is '{classifier.Manifest.Kind}', expected '{ModelManifest.ClassifierKind}'");
        }

        _cleanClassId = IndexOf(classifier.Manifest.Classes, "clean");
        _classifierPre = new Preprocessor(classifier.Manifest.Preprocessing);
        Inputs = [classifier.Manifest.Preprocessing];
        if (screen is null)
        {
            return;
        }

        var sm = screen.Manifest;
        if (sm.Kind != ModelManifest.ScreenKind || sm.Classes.Count != 2 || sm.Classes[0] != "clean" || sm.Classes[1] != "defect")
        {
            throw new ModelLoadException($"{screen.ManifestPath}: a screen must have kind '{ModelManifest.ScreenKind}' and classes [clean, defect]");
        }

        if (_cleanClassId < 0)
        {
            throw new ModelLoadException($"{classifier.ManifestPath}: the classifier has no 'clean' class for the screen to answer with");
        }

        DefectThreshold = sm.DefectThreshold ?? throw new ModelLoadException($"{screen.ManifestPath}: a screen needs defectThreshold");
        _sharedPreprocessing = sm.Preprocessing == classifier.Manifest.Preprocessing;
        _screenPre = _sharedPreprocessing ? _classifierPre : new Preprocessor(sm.Preprocessing);
        Inputs = _sharedPreprocessing ? [sm.Preprocessing] : [sm.Preprocessing, classifier.Manifest.Preprocessing];
    }

    public ModelSession Classifier { get; }

    public ModelSession? Screen { get; }

    /// <summary>The screen's P(defect) threshold, or NaN without a screen.</summary>
    public float DefectThreshold { get; } = float.NaN;

    /// <summary>The distinct preprocessings of the models' inputs (one when they share it): what an <see cref="ImagePreparer"/> makes.</summary>
    public IReadOnlyList<Preprocessing> Inputs { get; }

    /// <summary>Preprocesses <paramref name="image"/> and runs the models.</summary>
    public CascadeResult Run(DecodedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Run(image, null);
    }

    /// <summary>Runs the models on inputs preprocessed beforehand (the daemon's decode workers do that in parallel).</summary>
    /// <exception cref="InvalidOperationException"><paramref name="image"/> lacks one of <see cref="Inputs"/>.</exception>
    public CascadeResult Run(PreparedImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Run(null, image);
    }

    private CascadeResult Run(DecodedImage? image, PreparedImage? prepared)
    {
        double preprocessMs = 0, inferenceMs = 0;
        var defect = float.NaN;
        var classifierReady = false;
        if (Screen is not null)
        {
            var t0 = _time.GetTimestamp();
            Fill(_screenPre!, Screen, image, prepared);
            var t1 = _time.GetTimestamp();
            Screen.Run();
            var t2 = _time.GetTimestamp();
            preprocessMs += _time.GetElapsedTime(t0, t1).TotalMilliseconds;
            inferenceMs += _time.GetElapsedTime(t1, t2).TotalMilliseconds;
            defect = Screen.Probabilities[ScreenDefectIndex];
            if (!(defect >= DefectThreshold))
            {
                return new CascadeResult(_cleanClassId, 1f - defect, Screen, true, true, defect, preprocessMs, inferenceMs);
            }

            if (_sharedPreprocessing)
            {
                var t3 = _time.GetTimestamp();
                Screen.Input.CopyTo(Classifier.Input);
                preprocessMs += _time.GetElapsedTime(t3).TotalMilliseconds;
                classifierReady = true;
            }
        }

        var p0 = _time.GetTimestamp();
        if (!classifierReady)
        {
            Fill(_classifierPre, Classifier, image, prepared);
        }

        var p1 = _time.GetTimestamp();
        var classId = Classifier.Run();
        var p2 = _time.GetTimestamp();
        preprocessMs += _time.GetElapsedTime(p0, p1).TotalMilliseconds;
        inferenceMs += _time.GetElapsedTime(p1, p2).TotalMilliseconds;
        return new CascadeResult(classId, Classifier.Probabilities[classId], Classifier, Screen is not null, false, defect,
            preprocessMs, inferenceMs);
    }

    /// <summary>The model's input: preprocessed here from the pixels, or copied from the prepared tensor (64 KB, microseconds).</summary>
    private static void Fill(Preprocessor preprocessor, ModelSession model, DecodedImage? image, PreparedImage? prepared)
    {
        if (prepared is not null)
        {
            prepared.Input(preprocessor.Spec).CopyTo(model.Input);
        }
        else
        {
            preprocessor.Run(image!, model.Input);
        }
    }

    public void Dispose()
    {
        Classifier.Dispose();
        Screen?.Dispose();
    }

    private static int IndexOf(IReadOnlyList<string> classes, string label)
    {
        for (var i = 0; i < classes.Count; i++)
        {
            if (classes[i] == label) return i;
        }

        return -1;
    }
}
