using SemEdge.Toolchain.Quantization;

namespace SemEdge.Tests.Toolchain.Quantization;

/// <summary>The committed MobileNetV3-Small fixture quantized once (minmax) and shared by the tests that read it.</summary>
public sealed class QuantizedMobileNet : IDisposable
{
    private readonly TempFolder _dir = new();

    public QuantizedMobileNet()
    {
        Inputs = ToolchainFixtures.LoadInputs();
        OutputPath = _dir.Combine("mnv3.int8.onnx");
        Result = new ModelQuantizer(CalibrationMethod.MinMax, 99.99)
            .Quantize(ToolchainFixtures.Mnv3, OutputPath, Inputs, ToolchainFixtures.InputShape, CancellationToken.None);
    }

    internal IReadOnlyList<float[]> Inputs { get; }

    internal string OutputPath { get; }

    internal QuantizationResult Result { get; }

    public void Dispose() => _dir.Dispose();
}
