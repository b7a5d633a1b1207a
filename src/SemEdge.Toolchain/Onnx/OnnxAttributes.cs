namespace SemEdge.Toolchain.Onnx;

/// <summary>Typed access to node attributes, with the operator's default when an attribute is absent.</summary>
internal static class OnnxAttributes
{
    public static long GetInt(this NodeProto node, string name, long fallback)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        return attribute is null ? fallback : attribute.I;
    }

    public static float GetFloat(this NodeProto node, string name, float fallback)
    {
        var attribute = node.Attribute.FirstOrDefault(a => a.Name == name);
        return attribute is null ? fallback : attribute.F;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
}
