using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace SemEdge.Tests.Publishing;

/// <summary>A plain MQTTnet subscriber standing in for the PLC: records every message it receives.</summary>
internal sealed class MqttProbe : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly MqttClientOptions _options;
    private readonly string _filter;
    private readonly ConcurrentQueue<Received> _received = new();

    private MqttProbe(IMqttClient client, MqttClientOptions options, string filter)
    {
        _client = client;
        _options = options;
        _filter = filter;
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var m = e.ApplicationMessage;
            _received.Enqueue(new Received(m.Topic, m.ConvertPayloadToString(), m.Retain));
            return Task.CompletedTask;
        };
    }

    public IReadOnlyList<Received> Messages => [.. _received];

    public bool IsConnected => _client.IsConnected;

    /// <summary>
    /// Connects and subscribes to <paramref name="filter"/> with QoS 1. A persistent probe (clean session off,
    /// MQTT 3.1.1) keeps its queue on the broker while it is away.
    /// </summary>
    public static async Task<MqttProbe> ConnectAsync(
        int port, string filter, bool persistent = false, Action<MqttClientOptionsBuilder>? configure = null, string? clientId = null)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId(clientId ?? $"probe-{Guid.NewGuid():N}")
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithCleanSession(!persistent)
            .WithTimeout(TimeSpan.FromSeconds(5));
        configure?.Invoke(builder);
        var probe = new MqttProbe(new MqttClientFactory().CreateMqttClient(), builder.Build(), filter);
        await probe.ReconnectAsync();
        return probe;
    }

    /// <summary>Connects (again), retrying while the broker is still starting.</summary>
    public async Task ReconnectAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                var result = await _client.ConnectAsync(_options);
                if (!result.IsSessionPresent)
                {
                    await _client.SubscribeAsync(
                        new MqttClientSubscribeOptionsBuilder().WithTopicFilter(_filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
                }

                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    public IReadOnlyList<JsonElement> Verdicts() =>
        [.. Messages.Where(m => m.Topic.EndsWith("/verdict", StringComparison.Ordinal)).Select(m => JsonDocument.Parse(m.Payload).RootElement)];

    public IReadOnlyList<string> Payloads(string leaf) =>
        [.. Messages.Where(m => m.Topic.EndsWith("/" + leaf, StringComparison.Ordinal)).Select(m => m.Payload)];

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync();
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // The broker went away first (a test stopped it, or killed the daemon that hosts it): the
                // connection is gone either way, and that is not what the test is about.
            }
        }

        _client.Dispose();
    }

    internal sealed record Received(string Topic, string Payload, bool Retain);
}

internal static class PayloadText
{
    public static string Ascii(byte[] bytes) => Encoding.ASCII.GetString(bytes);
}
