using System.Text.Json.Serialization;
using SemEdge.Decision;

namespace SemEdge.Publishing;

/// <summary>Source-generated JSON for outbox entries (the full <see cref="Verdict"/>, not the PLC payload).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(Verdict))]
internal sealed partial class OutboxJsonContext : JsonSerializerContext;
