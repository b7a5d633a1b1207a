using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;

namespace SemEdge.Toolchain.Onnx;

/// <summary>Converts between <see cref="TensorProto"/> and plain arrays (raw_data is little-endian).</summary>
internal static class OnnxTensors
{
    public static float[] ToFloats(TensorProto tensor)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' is {(TensorProto.Types.DataType)tensor.DataType}, expected FLOAT");
        }

        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new InvalidDataException($"tensor '{tensor.Name}' keeps its data in an external file, which is not supported");
        }

        if (tensor.HasRawData)
        {
            var raw = tensor.RawData.Span;
            var values = new float[raw.Length / sizeof(float)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * sizeof(float))..]);
            }

            return values;
        }

        return [.. tensor.FloatData];
    }

    public static long ElementCount(TensorProto tensor)
    {
        long count = 1;
        foreach (var d in tensor.Dims)
        {
            count *= d;
        }

        return count;
    }

    public static TensorProto FromFloats(string name, ReadOnlySpan<float> values, params long[] dims) =>
        Create(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(values), dims);

    public static TensorProto FromInt8(string name, ReadOnlySpan<sbyte> values, params long[] dims) =>
        Create(name, TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes(values), dims);

    public static TensorProto FromUInt8(string name, ReadOnlySpan<byte> values, params long[] dims) =>
        Create(name, TensorProto.Types.DataType.Uint8, values, dims);

    public static TensorProto FromInt32(string name, ReadOnlySpan<int> values, params long[] dims) =>
        Create(name, TensorProto.Types.DataType.Int32, MemoryMarshal.AsBytes(values), dims);

    private static TensorProto Create(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, long[] dims)
    {
        if (!BitConverter.IsLittleEndian)
        {
            // raw_data is little-endian by the ONNX spec; every target we ship to (x64, arm64) is too.
            throw new PlatformNotSupportedException("ONNX raw tensor data needs a little-endian machine");
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
