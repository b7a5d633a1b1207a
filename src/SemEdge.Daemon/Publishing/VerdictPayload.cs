using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using SemEdge.Decision;

namespace SemEdge.Publishing;

/// <summary>
/// The <c>verdict</c> message the PLC parses: one flat ASCII JSON object, always shorter than
/// <see cref="MaxBytes"/> bytes, with the fields seq, image, ts, class, label, confidence, action, model, sha,
/// provider, latencyMs, replay. Non-ASCII text is escaped (\uXXXX); an image name too long for the budget is cut
/// and ends in <c>~</c> plus 8 hex digits of the SHA-256 of the full name, so distinct names stay distinct.
/// </summary>
public static class VerdictPayload
{
    /// <summary>Payloads are strictly shorter than this (PLC receive buffers are often 512 bytes).</summary>
    public const int MaxBytes = 512;

    private const int MaxLabel = 32;
    private const int MaxModel = 64;
    private const int MaxSha = 64;
    private const int MaxProvider = 24;

    // JavaScriptEncoder.Default escapes everything outside Basic Latin, so the output is ASCII.
    private static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.Default;
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = Encoder };

    public static byte[] Serialize(Verdict verdict, bool replay)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        var label = Limit(verdict.Label, MaxLabel, hashSuffix: false);
        var model = Limit(verdict.ModelId, MaxModel, hashSuffix: false);
        var sha = Limit(verdict.ModelSha, MaxSha, hashSuffix: false);
        var provider = Limit(verdict.Provider, MaxProvider, hashSuffix: false);

        // Everything but the image has a bounded size; the image gets whatever is left of the budget.
        var withoutImage = Write(verdict, replay, string.Empty, label, model, sha, provider);
        var imageBudget = MaxBytes - 1 - withoutImage.Length;
        var image = Limit(verdict.Image, imageBudget, hashSuffix: true);
        return Write(verdict, replay, image, label, model, sha, provider);
    }

    public static string ActionName(VerdictAction action) => action switch
    {
        VerdictAction.Pass => "pass",
        VerdictAction.Reject => "reject",
        VerdictAction.Review => "review",
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "Unknown verdict action."),
    };

    /// <summary>Cuts <paramref name="text"/> so that its JSON-escaped form is at most <paramref name="budget"/> chars.</summary>
    internal static string Limit(string text, int budget, bool hashSuffix)
    {
        if (EscapedLength(text) <= budget)
        {
            return text;
        }

        var suffix = hashSuffix ? "~" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..8] : string.Empty;
        var room = budget - suffix.Length;
        var kept = new StringBuilder();
        var used = 0;
        var runes = text.EnumerateRunes();
        foreach (var rune in runes)
        {
            var cost = EscapedLength(rune.ToString());
            if (used + cost > room)
            {
                break;
            }

            kept.Append(rune.ToString());
            used += cost;
        }

        return kept.Append(suffix).ToString();
    }

    private static int EscapedLength(string text) => Encoder.Encode(text).Length;

    private static byte[] Write(Verdict v, bool replay, string image, string label, string model, string sha, string provider)
    {
        using var buffer = new MemoryStream(MaxBytes);
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteNumber("seq", v.Seq);
            json.WriteString("image", image);
            json.WriteString("ts", v.Timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteNumber("class", v.ClassId);
            json.WriteString("label", label);
            WriteFinite(json, "confidence", Math.Round(v.Confidence, 4));
            json.WriteString("action", ActionName(v.Action));
            json.WriteString("model", model);
            json.WriteString("sha", sha);
            json.WriteString("provider", provider);
            WriteFinite(json, "latencyMs", Math.Round(v.LatencyMs, 2));
            json.WriteBoolean("replay", replay);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static void WriteFinite(Utf8JsonWriter json, string name, double value)
    {
        // JSON has no NaN: a broken number is sent as null rather than failing the publish of the verdict.
        if (double.IsFinite(value))
        {
            json.WriteNumber(name, value);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
