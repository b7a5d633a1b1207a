using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace SemEdge.Tests.EndToEnd;

/// <summary>
/// The PLC's side: a persistent-session MQTT subscriber to the verdict topic that keeps every message with the
/// moment it arrived, so the tests can check order and replay flags and measure drop-to-verdict latency.
/// </summary>
internal sealed class VerdictSubscriber : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _options;
    private readonly string _topic;
    private readonly ConcurrentQueue<ReceivedVerdict> _received = new();

    private VerdictSubscriber(int port, string topic)
    {
        _topic = topic;
        _options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId($"plc-{Guid.NewGuid():N}")
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithCleanSession(false)
            .WithTimeout(TimeSpan.FromSeconds(5))
            .Build();
        _client.ApplicationMessageReceivedAsync += e =>
        {
            var json = JsonDocument.Parse(e.ApplicationMessage.ConvertPayloadToString()).RootElement.Clone();
            _received.Enqueue(new ReceivedVerdict(json, Stopwatch.GetTimestamp()));
            return Task.CompletedTask;
        };
    }

    public IReadOnlyList<ReceivedVerdict> Verdicts => [.. _received];

    public static async Task<VerdictSubscriber> ConnectAsync(int port, string topic = "semedge/test/verdict")
    {
        var subscriber = new VerdictSubscriber(port, topic);
        await subscriber.ConnectAsync();
        return subscriber;
    }

    /// <summary>Connects (again, after a broker restart), retrying while the broker starts.</summary>
    public async Task ConnectAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            try
            {
                var result = await _client.ConnectAsync(_options);
                if (!result.IsSessionPresent)
                {
                    await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                        .WithTopicFilter(_topic, MqttQualityOfServiceLevel.AtLeastOnce).Build());
                }

                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Waits until verdicts for <paramref name="images"/> distinct images have arrived.</summary>
    public async Task WaitForImagesAsync(int images, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (Verdicts.Select(v => v.Image).Distinct().Count() < images)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"only {Verdicts.Select(v => v.Image).Distinct().Count()} of {images} images got a verdict within {within}");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }
}

internal sealed record ReceivedVerdict(JsonElement Json, long ReceivedAt)
{
    public long Seq => Json.GetProperty("seq").GetInt64();

    public string Image => Json.GetProperty("image").GetString()!;

    public string Label => Json.GetProperty("label").GetString()!;

    public string Action => Json.GetProperty("action").GetString()!;

    public bool Replay => Json.GetProperty("replay").GetBoolean();

    public DateTimeOffset Timestamp => Json.GetProperty("ts").GetDateTimeOffset();
}
