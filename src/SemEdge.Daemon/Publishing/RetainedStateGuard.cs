using System.Collections;
using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace SemEdge.Publishing;

/// <summary>
/// Makes the embedded broker hand every subscriber the daemon's current <c>status</c> and <c>model</c>, which MQTTnet
/// alone does not when a retained message changes while a SUBSCRIBE is being processed. MQTTnet reads its retained
/// store when the SUBSCRIBE arrives, adds the subscriber to its delivery list only after the whole packet, and sends
/// the retained messages it read after the SUBACK. A change in between is lost (neither in the snapshot nor
/// delivered), or delivered first and then overwritten at the subscriber by the older snapshot. A PLC subscribing as
/// the daemon (re)starts and announces its model then holds the wrong model, or none.
/// <list type="number">
/// <item>Every change of one of those retained messages gets a number; a connection notes the number it opened at.
/// Once a subscription is in place, the guarded messages it matches that changed since are sent again.</item>
/// <item>A PUBLISH of a guarded topic leaving for a client carries the store's current payload: an older snapshot
/// sent after a newer message cannot take the newer one's place.</item>
/// </list>
/// A subscriber may get the current state twice, which QoS 1 allows and which only repeats a state.
/// </summary>
internal sealed class RetainedStateGuard
{
    private const string ChangeAtConnectKey = "semedge.retained-change-at-connect";
    private readonly HashSet<string> _guardedTopics;
    private readonly IDictionary _redeliverySender;
    private readonly ConcurrentDictionary<string, long> _changedAt = new(StringComparer.Ordinal);
    private long _changes;

    /// <param name="guardedTopics">The daemon's retained topics (status, model).</param>
    /// <param name="redeliverySender">Session items naming the daemon as sender, so the access rule lets the repeat through.</param>
    public RetainedStateGuard(IEnumerable<string> guardedTopics, IDictionary redeliverySender)
    {
        _guardedTopics = new HashSet<string>(guardedTopics, StringComparer.Ordinal);
        _redeliverySender = redeliverySender;
    }

    public void Attach(MqttServer server)
    {
        server.RetainedMessageChangedAsync += e =>
        {
            // Raised after the store changed and before MQTTnet delivers the message to the subscribers it knows.
            if (_guardedTopics.Contains(e.ChangedRetainedMessage.Topic))
            {
                _changedAt[e.ChangedRetainedMessage.Topic] = Interlocked.Increment(ref _changes);
            }

            return Task.CompletedTask;
        };
        server.ClientSubscribedTopicAsync += e => RedeliverChangedSinceConnectAsync(server, e);
        server.InterceptingOutboundPacketAsync += e => SendCurrentStateAsync(server, e);
    }

    /// <summary>Called at CONNECT, before any SUBSCRIBE of the connection and so before MQTTnet's snapshot for it.</summary>
    public void NoteConnect(IDictionary sessionItems) => sessionItems[ChangeAtConnectKey] = Interlocked.Read(ref _changes);

    private async Task RedeliverChangedSinceConnectAsync(MqttServer server, ClientSubscribedTopicEventArgs e)
    {
        if (e.SessionItems[ChangeAtConnectKey] is not long atConnect)
        {
            return;
        }

        foreach (var (topic, changedAt) in _changedAt)
        {
            if (changedAt > atConnect
                && MqttTopicFilterComparer.Compare(topic, e.TopicFilter.Topic) == MqttTopicFilterCompareResult.IsMatch
                && await server.GetRetainedMessageAsync(topic).ConfigureAwait(false) is { } current)
            {
                await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(current) { CustomSessionItems = _redeliverySender })
                    .ConfigureAwait(false);
            }
        }
    }

    private async Task SendCurrentStateAsync(MqttServer server, InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket publish
            && _guardedTopics.Contains(publish.Topic)
            && await server.GetRetainedMessageAsync(publish.Topic).ConfigureAwait(false) is { } current
            && !SamePayload(current.Payload, publish.Payload))
        {
            publish.Payload = current.Payload;
        }
    }

    private static bool SamePayload(System.Buffers.ReadOnlySequence<byte> a, System.Buffers.ReadOnlySequence<byte> b) =>
        a.Length == b.Length && (a.IsSingleSegment && b.IsSingleSegment
            ? a.FirstSpan.SequenceEqual(b.FirstSpan)
            : System.Buffers.BuffersExtensions.ToArray(a).AsSpan().SequenceEqual(System.Buffers.BuffersExtensions.ToArray(b)));
}
