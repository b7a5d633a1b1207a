using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using SemEdge.Decision;
using SemEdge.Inference;
using SemEdge.Telemetry;

namespace SemEdge.Publishing;

/// <summary>
/// Drains the <see cref="VerdictOutbox"/> to the broker in seq order (QoS 1; an entry is marked sent only after
/// the broker's PUBACK: at-least-once) and keeps the line informed. Topics under <c>{prefix}/{nodeId}/</c>:
/// <c>status</c> retained <c>online</c> on every (re)connect, last will <c>offline</c> (retained);
/// <c>verdict</c> see <see cref="VerdictPayload"/>, <c>replay:true</c> for entries appended while the publisher
/// was not connected (during an outage, before start, or by a previous run), <c>replay:false</c> for entries
/// appended while connected (live, even if queued behind a backlog); <c>heartbeat</c> every
/// Mqtt:HeartbeatInterval with the <see cref="PipelineCounters"/>, uptime and outbox depth; <c>model</c>
/// retained, set by <see cref="AnnounceModel"/> and republished on every reconnect; <c>alarm</c> (QoS 1) for
/// every <see cref="MissedPulseAlarms"/> entry, until the broker acknowledges it.
/// <para>MQTTnet 5 has no managed client, so reconnection is this loop's job: exponential back-off between
/// Mqtt:ReconnectMin and Mqtt:ReconnectMax, driven from <see cref="ExecuteAsync"/>; the
/// Disconnected event only wakes the loop.</para>
/// <para>With the embedded broker (given as <c>embeddedBroker</c>) there is no client: every message is handed to the
/// broker in process (<see cref="EmbeddedBroker.PublishAsDaemonAsync"/>), and "connected" means the broker runs. A
/// loopback connection cost each verdict an encode, a send, the broker's parse and a PUBACK back, on the cores that
/// inspect. No last will is needed there: the broker and its retained <c>status</c> end with the process.</para>
/// </summary>
public sealed class MqttPublisher : BackgroundService
{
    internal const string StatusLeaf = "status";
    private const string VerdictLeaf = "verdict";
    private const string HeartbeatLeaf = "heartbeat";
    internal const string ModelLeaf = "model";
    private const string AlarmLeaf = "alarm";

    private readonly MqttOptions _options;
    private readonly VerdictOutbox _outbox;
    private readonly PipelineCounters _counters;
    private readonly TimeProvider _time;
    private readonly ILogger<MqttPublisher> _logger;
    private readonly IMqttClient? _client;
    private readonly EmbeddedBroker? _inProcess;
    private readonly MissedPulseAlarms? _alarms;
    private readonly LatencyBudget? _latency;
    private readonly Task _never = new TaskCompletionSource().Task;
    private readonly long _startedAt;
    private readonly Lock _modelLock = new();
    private ModelAnnouncement? _model;
    private bool _modelDirty;
    private TaskCompletionSource _modelSignal = NewSignal();
    private TaskCompletionSource _connectionLost = NewSignal();
    private long _replayThroughSeq;
    private bool _live;

    public MqttPublisher(
        IOptions<MqttOptions> options,
        VerdictOutbox outbox,
        PipelineCounters counters,
        TimeProvider time,
        ILogger<MqttPublisher> logger,
        MissedPulseAlarms? alarms = null,
        LatencyBudget? latency = null,
        EmbeddedBroker? embeddedBroker = null)
    {
        _alarms = alarms;
        _latency = latency;
        _options = options.Value;
        _outbox = outbox;
        _counters = counters;
        _time = time;
        _logger = logger;
        _startedAt = time.GetTimestamp();
        _inProcess = embeddedBroker;
        if (_inProcess is null)
        {
            _client = new MqttClientFactory().CreateMqttClient();
            _client.DisconnectedAsync += OnDisconnectedAsync;
        }
    }

    /// <summary>
    /// True while connected to the broker (with the embedded broker: while it runs) and past the connect's
    /// bookkeeping: a verdict appended from now on goes out live (<c>replay:false</c>).
    /// </summary>
    public bool IsConnected => Volatile.Read(ref _live) && LinkUp;

    /// <summary>The connection (or the in-process broker) itself, whatever this loop has done with it yet.</summary>
    private bool LinkUp => _inProcess?.IsRunning ?? _client!.IsConnected;

    /// <summary>Sets the retained <c>model</c> message; published now if connected, and on every reconnect.</summary>
    public void AnnounceModel(ModelAnnouncement announcement)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        lock (_modelLock)
        {
            _model = announcement;
            _modelDirty = true;
            var fired = _modelSignal;
            _modelSignal = NewSignal();
            fired.TrySetResult();
        }
    }

    public override void Dispose()
    {
        if (_client is not null)
        {
            _client.DisconnectedAsync -= OnDisconnectedAsync;
            _client.Dispose();
        }

        base.Dispose();
    }

    internal static byte[] HeartbeatPayload(PipelineCounters counters, TimeSpan uptime, int outboxDepth, long outboxBytes, DateTimeOffset now)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("ts", now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteNumber("uptimeS", Math.Round(uptime.TotalSeconds, 1));
            json.WriteNumber("claimed", counters.Claimed);
            json.WriteNumber("inspected", counters.Inspected);
            json.WriteNumber("passed", counters.Passed);
            json.WriteNumber("rejected", counters.Rejected);
            json.WriteNumber("reviewed", counters.Reviewed);
            json.WriteNumber("quarantined", counters.Quarantined);
            json.WriteNumber("published", counters.Published);
            json.WriteNumber("outboxDepth", outboxDepth);
            json.WriteNumber("outboxBytes", outboxBytes);
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    internal static byte[] ModelPayload(ModelAnnouncement model)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", model.Id);
            json.WriteString("version", model.Version);
            json.WriteString("sha", model.Sha);
            json.WriteString("provider", model.Provider);
            // The class table first: what every verdict's "class" number means, whatever the model's order.
            json.WriteStartArray("classTable");
            foreach (var entry in model.ClassTable)
            {
                json.WriteStartObject();
                json.WriteNumber("class", entry.Number);
                json.WriteString("label", entry.Label);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartArray("classes");
            foreach (var label in model.ClassTable.Count == 0 ? model.Classes : model.ClassTable.Select(e => e.Label).Where(model.Classes.Contains))
            {
                json.WriteStringValue(label);
            }

            json.WriteEndArray();
            json.WriteStartArray("missing");
            foreach (var label in model.Missing)
            {
                json.WriteStringValue(label);
            }

            json.WriteEndArray();
            if (model.SignedBy is null)
            {
                json.WriteNull("signedBy");
            }
            else
            {
                json.WriteString("signedBy", model.SignedBy);
            }

            if (model.ScreenId is null)
            {
                json.WriteNull("screen");
            }
            else
            {
                json.WriteString("screen", model.ScreenId);
            }

            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var (host, port) = BrokerClientOptions.Endpoint(_options);
        var attempt = new BrokerConnectAttempt();
        // Only a client needs its options (with the embedded broker's TLS, they read its certificate).
        var clientOptions = _client is null ? null : BrokerClientOptions.Create(_options, attempt);
        var minBackoff = _options.ReconnectMin;
        var maxBackoff = _options.ReconnectMax;
        var backoff = minBackoff;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var connected = false;
                try
                {
                    _connectionLost = NewSignal();
                    attempt.Reset();
                    await ConnectAsync(clientOptions, stoppingToken).ConfigureAwait(false);
                    connected = true;

                    // Everything already in the outbox was appended while we were not connected: replays.
                    _replayThroughSeq = _outbox.LastSeq;
                    Volatile.Write(ref _live, true);
                    await PublishAsync(StatusLeaf, Encoding.ASCII.GetBytes(BrokerClientOptions.Online), retain: true, stoppingToken).ConfigureAwait(false);
                    _logger.LogInformation(
                        _inProcess is null
                            ? "Connected to MQTT broker {Host}:{Port} as {ClientId}; {Pending} verdict(s) waiting in the outbox"
                            : "Publishing into the embedded MQTT broker ({Host}:{Port}) in process as {ClientId}; {Pending} verdict(s) waiting in the outbox",
                        host, port, _options.EffectiveClientId, _outbox.PendingCount);
                    backoff = minBackoff;
                    await RunConnectedAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    // A refused connect gets its cause in words (the same as semedge doctor gives); a lost one its error.
                    _logger.LogWarning(
                        "MQTT broker {Host}:{Port} unavailable ({Reason}); {Pending} verdict(s) kept in the outbox, retrying in {Delay} ms",
                        host, port, connected || _inProcess is not null ? ex.GetBaseException().Message : BrokerConnectFailure.Explain(ex, attempt, _options),
                        _outbox.PendingCount, (long)backoff.TotalMilliseconds);
                }

                Volatile.Write(ref _live, false);
                await AbandonConnectionAsync().ConfigureAwait(false);
                try
                {
                    await Task.Delay(backoff, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, maxBackoff.Ticks));
            }
        }
        finally
        {
            Volatile.Write(ref _live, false);
            await GoOfflineAsync().ConfigureAwait(false);
        }
    }

    /// <param name="clientOptions">The client's options; null in process.</param>
    private async Task ConnectAsync(MqttClientOptions? clientOptions, CancellationToken cancellationToken)
    {
        if (_inProcess is not null)
        {
            // Started before this service (the host starts them in order), so this fails only after a failed start.
            if (!_inProcess.IsRunning)
            {
                throw new InvalidOperationException("the embedded MQTT broker is not running");
            }

            return;
        }

        var connack = await _client!.ConnectAsync(clientOptions!, cancellationToken).ConfigureAwait(false);
        if (connack.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new BrokerRefusedConnectionException(connack);
        }
    }

    /// <summary>Sends one message and waits for the broker to take it (its PUBACK, or the in-process hand-over).</summary>
    /// <exception cref="InvalidOperationException">The broker refused it (named by its leaf, and its seq for a verdict).</exception>
    private async Task SendAsync(MqttApplicationMessage message, string leaf, long? seq, CancellationToken cancellationToken)
    {
        if (_inProcess is not null)
        {
            await _inProcess.PublishAsDaemonAsync(message, cancellationToken).ConfigureAwait(false);
            return;
        }

        var result = await _client!.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        if (!Acknowledged(result))
        {
            var what = seq is { } n ? $"{leaf} seq {n}" : leaf;
            throw new InvalidOperationException($"broker refused {what}: {result.ReasonCode} {result.ReasonString}");
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static bool Acknowledged(MqttClientPublishResult result) =>
        result.ReasonCode is MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.NoMatchingSubscribers;

    private async Task RunConnectedAsync(CancellationToken stoppingToken)
    {
        var heartbeatInterval = _options.HeartbeatInterval;
        // The heartbeat period is a duration (monotonic): a wall-clock step back must not silence it.
        long? lastHeartbeat = null;
        PublishModelOnReconnect();
        var replaying = _outbox.PendingCount;
        if (replaying > 0)
        {
            _logger.LogInformation("Replaying {Count} verdict(s) from the outbox, oldest first", replaying);
        }

        while (true)
        {
            stoppingToken.ThrowIfCancellationRequested();
            if (!LinkUp || _connectionLost.Task.IsCompleted)
            {
                throw new InvalidOperationException("connection lost");
            }

            await PublishModelIfChangedAsync(stoppingToken).ConfigureAwait(false);
            var alarmRaised = _alarms?.Raised ?? _never;
            await PublishAlarmsAsync(stoppingToken).ConfigureAwait(false);

            if (lastHeartbeat is not { } last || _time.GetElapsedTime(last) >= heartbeatInterval)
            {
                lastHeartbeat = _time.GetTimestamp();
                await PublishAsync(
                    HeartbeatLeaf,
                    HeartbeatPayload(_counters, _time.GetElapsedTime(_startedAt), _outbox.PendingCount, _outbox.SizeBytes, _time.GetUtcNow()),
                    retain: false,
                    stoppingToken).ConfigureAwait(false);
            }

            if (_outbox.TryPeekPending(out var verdict))
            {
                await PublishVerdictAsync(verdict, stoppingToken).ConfigureAwait(false);
                continue;
            }

            using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            Task modelChanged;
            lock (_modelLock)
            {
                modelChanged = _modelDirty ? Task.CompletedTask : _modelSignal.Task;
            }

            var delay = heartbeatInterval - _time.GetElapsedTime(lastHeartbeat!.Value);
            await Task.WhenAny(
                _outbox.WaitForPendingAsync(wake.Token),
                Task.Delay(delay > TimeSpan.Zero ? delay : TimeSpan.Zero, _time, wake.Token),
                modelChanged,
                alarmRaised,
                _connectionLost.Task).ConfigureAwait(false);
            await wake.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task PublishVerdictAsync(Verdict verdict, CancellationToken cancellationToken)
    {
        var replay = verdict.Seq <= _replayThroughSeq;
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(_options.Topic(VerdictLeaf))
            .WithPayload(VerdictPayload.Serialize(verdict, replay))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        _latency?.Mark(verdict.Seq, Stage.Published);
        await SendAsync(message, VerdictLeaf, verdict.Seq, cancellationToken).ConfigureAwait(false);
        _latency?.Acknowledged(verdict.Seq, verdict.Image);

        // Recorded before counting: a crash between PUBACK and here means a duplicate, never a loss.
        await _outbox.MarkSentAsync(verdict.Seq, CancellationToken.None).ConfigureAwait(false);
        _counters.CountPublished();
        _logger.LogDebug("Published verdict seq {Seq} for {Image} (replay {Replay})", verdict.Seq, verdict.Image, replay);
    }

    /// <summary>Missed-pulse alarms (see <see cref="MissedPulseAlarms"/>), each removed only after its PUBACK.</summary>
    private async Task PublishAlarmsAsync(CancellationToken cancellationToken)
    {
        if (_alarms is null)
        {
            return;
        }

        foreach (var (seq, payload) in _alarms.Pending())
        {
            await PublishAsync(AlarmLeaf, payload, retain: false, cancellationToken).ConfigureAwait(false);
            _alarms.Delivered(seq);
            _logger.LogWarning("Published missed-pulse alarm for seq {Seq}", seq);
        }
    }

    private void PublishModelOnReconnect()
    {
        lock (_modelLock)
        {
            _modelDirty = _model is not null;
        }
    }

    private async Task PublishModelIfChangedAsync(CancellationToken cancellationToken)
    {
        ModelAnnouncement? model;
        lock (_modelLock)
        {
            model = _modelDirty ? _model : null;
        }

        if (model is null)
        {
            return;
        }

        await PublishAsync(ModelLeaf, ModelPayload(model), retain: true, cancellationToken).ConfigureAwait(false);
        lock (_modelLock)
        {
            // A newer announcement that arrived meanwhile stays dirty and goes out next.
            if (ReferenceEquals(model, _model))
            {
                _modelDirty = false;
            }
        }

        _logger.LogInformation("Announced model {ModelId} {Version} ({Sha}) on {Provider}", model.Id, model.Version, model.Sha, model.Provider);
    }

    private async Task PublishAsync(string leaf, byte[] payload, bool retain, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(_options.Topic(leaf))
            .WithPayload(payload)
            .WithQualityOfServiceLevel(leaf == HeartbeatLeaf ? MqttQualityOfServiceLevel.AtMostOnce : MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag(retain)
            .Build();
        await SendAsync(message, leaf, seq: null, cancellationToken).ConfigureAwait(false);
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs e)
    {
        // Only wake the loop: reconnecting from inside the event would race the loop and MQTTnet's own state.
        if (e.ClientWasConnected)
        {
            _connectionLost.TrySetResult();
        }

        return Task.CompletedTask;
    }

    private async Task AbandonConnectionAsync()
    {
        if (_client is not { IsConnected: true })
        {
            return;
        }

        try
        {
            // Abnormal on purpose: the broker then publishes the last will, which is the truth.
            using var timeout = new CancellationTokenSource(_options.OperationTimeout);
            await _client.DisconnectAsync(
                new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.DisconnectWithWillMessage).Build(),
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "Dropping a broken MQTT connection failed");
        }
    }

    private async Task GoOfflineAsync()
    {
        if (!LinkUp)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(_options.OperationTimeout);
            await PublishAsync(StatusLeaf, Encoding.ASCII.GetBytes(BrokerClientOptions.Offline), retain: true, timeout.Token).ConfigureAwait(false);
            if (_client is null)
            {
                _logger.LogInformation("Status set to offline on the embedded MQTT broker");
                return;
            }

            await _client.DisconnectAsync(
                new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(),
                timeout.Token).ConfigureAwait(false);
            _logger.LogInformation("Disconnected from the MQTT broker; status set to offline");
        }
        catch (Exception ex)
        {
            _logger.LogWarning("Could not say offline to the MQTT broker ({Reason}); its last will does it instead", ex.GetBaseException().Message);
        }
    }
}
