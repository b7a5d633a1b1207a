using System.Text;
using System.Text.Json;
using SemEdge.Decision;
using SemEdge.Publishing;

namespace SemEdge.Tests.Publishing;

public sealed class VerdictPayloadTests
{
    private static readonly string[] Fields =
        ["seq", "image", "ts", "class", "label", "confidence", "action", "model", "sha", "provider", "latencyMs", "replay"];

    [Fact]
    public void Payload_has_every_field_with_plc_friendly_values()
    {
        var verdict = Verdicts.Make("w01_d07.tif", VerdictAction.Review) with { Seq = 42 };
        using var json = JsonDocument.Parse(VerdictPayload.Serialize(verdict, replay: true));
        var root = json.RootElement;
        Assert.Equal(Fields, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(42, root.GetProperty("seq").GetInt64());
        Assert.Equal("w01_d07.tif", root.GetProperty("image").GetString());
        Assert.Equal("2026-11-23T10:00:00.123Z", root.GetProperty("ts").GetString());
        Assert.Equal(1, root.GetProperty("class").GetInt32());
        Assert.Equal("bridge", root.GetProperty("label").GetString());
        Assert.Equal(0.9731, root.GetProperty("confidence").GetDouble());
        Assert.Equal("review", root.GetProperty("action").GetString());
        Assert.Equal("mnv3s-int8", root.GetProperty("model").GetString());
        Assert.Equal("0123456789ab", root.GetProperty("sha").GetString());
        Assert.Equal("cpu", root.GetProperty("provider").GetString());
        Assert.Equal(12.35, root.GetProperty("latencyMs").GetDouble());
        Assert.True(root.GetProperty("replay").GetBoolean());
    }

    [Fact]
    public void Payload_is_ascii_and_under_512_bytes_for_a_255_char_non_ascii_name()
    {
        var name = string.Concat(Enumerable.Repeat("晶圆😀é", 64))[..254] + "f";
        Assert.Equal(255, name.Length);
        var bytes = VerdictPayload.Serialize(Verdicts.Make(name) with { Seq = long.MaxValue }, replay: false);

        Assert.True(bytes.Length < VerdictPayload.MaxBytes, $"payload is {bytes.Length} bytes");
        Assert.All(bytes, b => Assert.True(b < 0x80, $"non-ASCII byte 0x{b:x2}"));
        using var json = JsonDocument.Parse(bytes);
        Assert.Equal(Fields, json.RootElement.EnumerateObject().Select(p => p.Name));
        var image = json.RootElement.GetProperty("image").GetString()!;
        Assert.StartsWith("晶圆😀é", image, StringComparison.Ordinal);
        Assert.Matches("~[0-9a-f]{8}$", image);
    }

    [Fact]
    public void Long_names_that_differ_only_at_the_end_stay_distinct()
    {
        var common = new string('x', 600);
        var a = Image(VerdictPayload.Serialize(Verdicts.Make(common + "a.tif"), replay: false));
        var b = Image(VerdictPayload.Serialize(Verdicts.Make(common + "b.tif"), replay: false));
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void Control_characters_and_quotes_in_names_are_escaped()
    {
        var bytes = VerdictPayload.Serialize(Verdicts.Make("a\"b\n\\c.tif"), replay: false);
        Assert.DoesNotContain((byte)'\n', bytes);
        Assert.Equal("a\"b\n\\c.tif", Image(bytes));
    }

    private static string Image(byte[] payload)
    {
        Assert.True(payload.Length < VerdictPayload.MaxBytes);
        Assert.Equal(payload.Length, Encoding.ASCII.GetByteCount(Encoding.ASCII.GetString(payload)));
        using var json = JsonDocument.Parse(payload);
        return json.RootElement.GetProperty("image").GetString()!;
    }
}
