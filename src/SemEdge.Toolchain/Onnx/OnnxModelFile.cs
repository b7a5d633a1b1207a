using Google.Protobuf;

namespace SemEdge.Toolchain.Onnx;

/// <summary>Reads and writes ONNX model files through the toolchain's own protobuf schema subset.</summary>
internal static class OnnxModelFile
{
    // Subgraphs (If/Loop bodies) nest messages deeper than protobuf's default limit of 100 allows for.
    private const int RecursionLimit = 1000;

    public static ModelProto Load(string path) => Parse(File.ReadAllBytes(path));

    public static ModelProto Parse(byte[] bytes)
    {
        // The C# runtime keeps unknown fields, so anything outside our schema subset survives a rewrite.
        var model = new ModelProto();
        using var input = CodedInputStream.CreateWithLimits(new MemoryStream(bytes, writable: false), bytes.Length, RecursionLimit);
        model.MergeFrom(input);
        return model;
    }

    public static void Save(ModelProto model, string path)
    {
        using var file = File.Create(path);
        model.WriteTo(file);
    }
}
