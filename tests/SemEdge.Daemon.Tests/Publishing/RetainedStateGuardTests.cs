using System.Globalization;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;
using SemEdge.Publishing;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// The guard on a bare MQTTnet server, wired as <see cref="EmbeddedBroker"/> wires it. The broker's own test
/// (<see cref="EmbeddedBrokerTests"/>) covers a retained message that changes; this one covers the first one.
/// </summary>
public sealed class RetainedStateGuardTests
{
    private const int Rounds = 1000;

    [Fact]
    public async Task A_first_retained_message_published_while_a_client_subscribes_reaches_it()
    {
        // Each round a fresh topic, so the store holds nothing for it: if MQTTnet's snapshot misses the message
        // and its delivery list does not have the subscriber yet, only the guard's repeat brings it.
        var topics = Enumerable.Range(1, Rounds).Select(r => $"plant/cell/{r}/model").ToArray();
        var guard = new RetainedStateGuard(topics, new System.Collections.Hashtable());
        var port = FreePort.Next();
        var serverFactory = new MqttServerFactory();
        using var server = serverFactory.CreateMqttServer(
            serverFactory.CreateServerOptionsBuilder().WithDefaultEndpoint().WithDefaultEndpointPort(port)
                .WithDefaultEndpointBoundIPAddress(System.Net.IPAddress.Loopback).WithDefaultEndpointBoundIPV6Address(System.Net.IPAddress.None).Build());
        server.ValidatingConnectionAsync += e =>
        {
            guard.NoteConnect(e.SessionItems);
            return Task.CompletedTask;
        };
        guard.Attach(server);
        await server.StartAsync();

        var factory = new MqttClientFactory();
        using var publisher = factory.CreateMqttClient();
        await publisher.ConnectAsync(Options(port));
        for (var round = 1; round <= Rounds; round++)
        {
            using var subscriber = factory.CreateMqttClient();
            var received = 0;
            subscriber.ApplicationMessageReceivedAsync += _ =>
            {
                Interlocked.Increment(ref received);
                return Task.CompletedTask;
            };
            await subscriber.ConnectAsync(Options(port));
            var topic = topics[round - 1];
            var subscribe = subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topic, MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic)
                .WithPayload(round.ToString(CultureInfo.InvariantCulture)).WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await subscribe;
            await Eventually.TrueAsync(() => Volatile.Read(ref received) > 0, $"round {round}: the subscriber got the first retained message", seconds: 3);
            await subscriber.DisconnectAsync();
        }

        await publisher.DisconnectAsync();
        await server.StopAsync();
    }

    private static MqttClientOptions Options(int port) =>
        new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V311).Build();
}
