using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using SemEdge.Inference.Accelerators;

namespace SemEdge.Inference;

/// <summary>
/// One ONNX model loaded from its manifest, ready to run on a single image at a time. The input and output
/// tensors are OrtValues created once over pinned managed arrays, and every <see cref="Run"/> reuses them with
/// pre-built name/value arrays, so steady-state inference allocates nothing on the managed heap.
/// Write the image into <see cref="Input"/>, call <see cref="Run"/>, read <see cref="Probabilities"/>.
/// Not thread-safe: one per pipeline worker.
/// </summary>
public sealed class ModelSession : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;
    private readonly float[] _input;
    private readonly float[] _logits;
    private readonly float[] _probabilities;
    private readonly OrtValue _inputValue;
    private readonly OrtValue _outputValue;
    private readonly OrtIoBinding _binding;
    private readonly float _inverseTemperature;
    private readonly bool _d4;
    private readonly float[] _original;
    private readonly float[] _logitSum;
    private readonly int _side;

    private ModelSession(string manifestPath, ModelManifest manifest, InferenceSession session, string provider,
        long[] inputShape, int classes)
    {
        ManifestPath = manifestPath;
        Manifest = manifest;
        Provider = provider;
        _session = session;
        _runOptions = new RunOptions();
        var inputLength = 1;
        foreach (var d in inputShape) inputLength *= (int)d;

        _input = GC.AllocateArray<float>(inputLength, pinned: true);
        _logits = GC.AllocateArray<float>(classes, pinned: true);
        _probabilities = new float[classes];
        _inputValue = OrtValue.CreateTensorValueFromMemory(_input, inputShape);
        _outputValue = OrtValue.CreateTensorValueFromMemory(_logits, [1, classes]);

        // Bound once: Run(runOptions, names, values, ...) marshals the names to UTF-8 on every call (~350 bytes
        // per run measured); a binding keeps the native name/value pairs, so a run is one native call.
        _binding = session.CreateIoBinding();
        _binding.BindInput(manifest.Input.Name, _inputValue);
        _binding.BindOutput(manifest.Output.Name, _outputValue);
        _inverseTemperature = 1f / (manifest.Temperature ?? 1f);
        _d4 = manifest.Tta == ModelManifest.TtaD4;
        _side = (int)inputShape[^1];
        _original = _d4 ? new float[inputLength] : [];
        _logitSum = _d4 ? new float[classes] : [];
    }

    public string ManifestPath { get; }

    public ModelManifest Manifest { get; }

    /// <summary>Execution provider the session runs on: <c>cpu</c>, <c>vsinpu</c>, <c>nnapi</c>, <c>vsinpu-legacy</c>.</summary>
    public string Provider { get; }

    /// <summary>First 12 hex digits of the verified sha256, as carried in verdicts.</summary>
    public string ShortSha => Manifest.Sha256[..Math.Min(12, Manifest.Sha256.Length)];

    /// <summary>The input tensor (N=1, C=1, H, W in row-major order); write the preprocessed image here.</summary>
    public Span<float> Input => _input;

    /// <summary>Softmax of the logits of the last <see cref="Run"/>, in manifest class order.</summary>
    public ReadOnlySpan<float> Probabilities => _probabilities;

    /// <summary>Raw logits of the last <see cref="Run"/>.</summary>
    public ReadOnlySpan<float> Logits => _logits;

    /// <summary>
    /// Loads the manifest at <paramref name="manifestPath"/>, verifies the model's sha256, creates the ORT session
    /// on the provider chosen by <paramref name="accelerator"/> and runs one warm-up inference.
    /// </summary>
    /// <exception cref="ModelLoadException">Unreadable manifest or model, checksum mismatch, shape mismatch.</exception>
    public static ModelSession Load(string manifestPath, int intraOpThreads = 1, Accelerator? accelerator = null,
        ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        ArgumentOutOfRangeException.ThrowIfLessThan(intraOpThreads, 1);
        var manifest = ReadManifest(manifestPath);
        var modelPath = manifest.ResolveModelPath(manifestPath);
        var bytes = ReadVerified(manifestPath, manifest, modelPath);
        var classes = manifest.Classes.Count;
        if (classes < 2)
        {
            throw new ModelLoadException($"{manifestPath}: the manifest lists {classes} class(es); at least 2 are needed");
        }

        if (manifest.Kind == ModelManifest.ScreenKind && manifest.DefectThreshold is not ( >= 0f and <= 1f))
        {
            throw new ModelLoadException($"{manifestPath}: a screen manifest needs defectThreshold in [0,1]");
        }

        if (manifest.Temperature is { } temperature && !(temperature > 0f && float.IsFinite(temperature)))
        {
            throw new ModelLoadException($"{manifestPath}: temperature must be a finite number > 0, got {temperature}");
        }

        if (manifest.Tta is { } tta && tta != ModelManifest.TtaNone && tta != ModelManifest.TtaD4)
        {
            throw new ModelLoadException($"{manifestPath}: tta must be '{ModelManifest.TtaNone}' or '{ModelManifest.TtaD4}', got '{tta}'");
        }

        if (manifest.Tta == ModelManifest.TtaD4 && manifest.Preprocessing.Width != manifest.Preprocessing.Height)
        {
            throw new ModelLoadException($"{manifestPath}: tta 'd4' needs a square input, the preprocessing is {manifest.Preprocessing.Width}x{manifest.Preprocessing.Height}");
        }

        using var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        var provider = (accelerator ?? Accelerator.Cpu).Apply(options, manifest.Id);

        InferenceSession session;
        try
        {
            session = new InferenceSession(bytes, options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException($"{modelPath}: ONNX Runtime refused the model: {ex.Message}", ex);
        }

        try
        {
            var inputShape = CheckShapes(manifestPath, manifest, session);
            var model = new ModelSession(manifestPath, manifest, session, provider, inputShape, classes);
            model.Run();
            logger.LogInformation(
                "Loaded model {ModelId} v{Version} ({Format}, sha {Sha}) on {Provider} with {Threads} thread(s)",
                manifest.Id, manifest.Version, manifest.Format, model.ShortSha, provider, intraOpThreads);
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs the model on <see cref="Input"/>; fills <see cref="Probabilities"/> (softmax of the logits divided by the
    /// manifest's temperature); returns the top class. With <c>tta: d4</c> the model runs on all 8 flips and quarter
    /// turns of the input and <see cref="Logits"/> is their mean; <see cref="Input"/> is left as it was given.
    /// </summary>
    public int Run()
    {
        if (_d4)
        {
            RunD4();
        }
        else
        {
            _session.RunWithBinding(_runOptions, _binding);
        }

        return LogitMath.Softmax(_logits, _probabilities, _inverseTemperature);
    }

    /// <summary>
    /// Writes symmetry <paramref name="transform"/> (0..7 of the dihedral group D4) of the square plane
    /// <paramref name="source"/> into <paramref name="target"/>: bit 2 flips left-right, bits 0-1 turn by quarter turns.
    /// </summary>
    public static void ApplyD4(ReadOnlySpan<float> source, Span<float> target, int side, int transform)
    {
        var flip = (transform & 4) != 0;
        var turns = transform & 3;
        var last = side - 1;
        for (var y = 0; y < side; y++)
        {
            for (var x = 0; x < side; x++)
            {
                var sx = flip ? last - x : x;
                var sy = y;
                (sy, sx) = turns switch
                {
                    1 => (sx, last - sy),
                    2 => (last - sy, last - sx),
                    3 => (last - sx, sy),
                    _ => (sy, sx),
                };
                target[(y * side) + x] = source[(sy * side) + sx];
            }
        }
    }

    private void RunD4()
    {
        _input.AsSpan().CopyTo(_original);
        Array.Clear(_logitSum);
        for (var t = 0; t < 8; t++)
        {
            if (t > 0)
            {
                ApplyD4(_original, _input, _side, t);
            }

            _session.RunWithBinding(_runOptions, _binding);
            for (var i = 0; i < _logitSum.Length; i++) _logitSum[i] += _logits[i];
        }

        _original.AsSpan().CopyTo(_input);
        for (var i = 0; i < _logitSum.Length; i++) _logits[i] = _logitSum[i] / 8f;
    }

    public void Dispose()
    {
        _binding.Dispose();
        _inputValue.Dispose();
        _outputValue.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }

    private static ModelManifest ReadManifest(string manifestPath)
    {
        try
        {
            return ModelManifest.Load(manifestPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException
                                       or InvalidDataException)
        {
            throw new ModelLoadException($"{manifestPath}: cannot read the model manifest: {ex.Message}", ex);
        }
    }

    private static byte[] ReadVerified(string manifestPath, ModelManifest manifest, string modelPath)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(modelPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{modelPath}: cannot read the model named by {manifestPath}: {ex.Message}", ex);
        }

        // The session is built from these same bytes, so what was verified is what runs.
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (!string.Equals(actual, manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelLoadException(
                $"{modelPath}: sha256 mismatch: manifest {manifestPath} expects {manifest.Sha256}, the file has {actual}; refusing to load a model that is not the one released");
        }

        return bytes;
    }

    private static long[] CheckShapes(string manifestPath, ModelManifest manifest, InferenceSession session)
    {
        if (!session.InputMetadata.TryGetValue(manifest.Input.Name, out var input))
        {
            throw new ModelLoadException(
                $"{manifestPath}: the model has no input '{manifest.Input.Name}' (it has {string.Join(", ", session.InputMetadata.Keys)})");
        }

        if (!session.OutputMetadata.TryGetValue(manifest.Output.Name, out var output))
        {
            throw new ModelLoadException(
                $"{manifestPath}: the model has no output '{manifest.Output.Name}' (it has {string.Join(", ", session.OutputMetadata.Keys)})");
        }

        if (input.ElementType != typeof(float) || output.ElementType != typeof(float))
        {
            throw new ModelLoadException($"{manifestPath}: input and output must be float tensors");
        }

        var pre = manifest.Preprocessing;
        long[] expected = [1, 1, pre.Height, pre.Width];
        var dims = input.Dimensions;
        var ok = dims.Length == 4;
        for (var i = 0; ok && i < 4; i++) ok = dims[i] == expected[i] || dims[i] < 0;
        if (!ok)
        {
            throw new ModelLoadException(
                $"{manifestPath}: model input shape [{string.Join(",", dims)}] does not match [1,1,{pre.Height},{pre.Width}] from the preprocessing");
        }

        var outDims = output.Dimensions;
        var outCount = outDims.Length == 0 ? 0 : outDims[^1];
        if (outDims.Length != 2 || (outCount >= 0 && outCount != manifest.Classes.Count))
        {
            throw new ModelLoadException(
                $"{manifestPath}: model output shape [{string.Join(",", outDims)}] does not match [1,{manifest.Classes.Count}] for {manifest.Classes.Count} classes");
        }

        return expected;
    }
}
