namespace SemEdge.Publishing;

/// <summary>
/// Configuration section "Mqtt". Topics are <c>{TopicPrefix}/{NodeId}/status|verdict|heartbeat|model</c>.
/// <c>Mode = embedded</c> (the default) runs a broker inside the daemon on <see cref="Embedded"/>'s address so a
/// PLC can connect straight to the board, and the publisher connects to it; <c>external</c> connects to
/// <see cref="Host"/>:<see cref="Port"/>.
/// </summary>
public sealed class MqttOptions
{
    public const string SectionName = "Mqtt";
    public const string ModeEmbedded = "embedded";
    public const string ModeExternal = "external";

    public string Mode { get; set; } = ModeEmbedded;

    /// <summary>Broker host name or address (external mode).</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>Broker port (external mode); 8883 is usual with TLS.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>This board's name in the topics; letters, digits, '-', '_' and '.'.</summary>
    public string NodeId { get; set; } = "semedge-1";

    public string TopicPrefix { get; set; } = "semedge";

    /// <summary>MQTT client id; empty means <c>semedge-{NodeId}</c>.</summary>
    public string? ClientId { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    public MqttTlsOptions Tls { get; set; } = new();

    public int KeepAliveSeconds { get; set; } = 15;

    /// <summary>How long one connect or publish may take before the connection is considered lost.</summary>
    public int OperationTimeoutSeconds { get; set; } = 10;

    /// <summary>First wait after a failed connection; doubled on each failure up to the maximum.</summary>
    public double ReconnectMinSeconds { get; set; } = 0.5;

    public double ReconnectMaxSeconds { get; set; } = 30;

    public double HeartbeatSeconds { get; set; } = 10;

    public MqttEmbeddedBrokerOptions Embedded { get; set; } = new();

    public bool IsEmbedded => string.Equals(Mode, ModeEmbedded, StringComparison.OrdinalIgnoreCase);

    public string EffectiveClientId => string.IsNullOrWhiteSpace(ClientId) ? $"semedge-{NodeId}" : ClientId;

    public string Topic(string leaf) => $"{TopicPrefix}/{NodeId}/{leaf}";
}

/// <summary>Section "Mqtt:Tls": TLS to an external broker.</summary>
public sealed class MqttTlsOptions
{
    public bool Enabled { get; set; }

    /// <summary>PEM file with the CA certificate(s) that signed the broker's certificate; empty = system store.</summary>
    public string? CaFile { get; set; }

    /// <summary>Client certificate: a PEM file (with <see cref="ClientKey"/>) or a .pfx/.p12 file.</summary>
    public string? ClientCert { get; set; }

    /// <summary>PEM private key of <see cref="ClientCert"/>.</summary>
    public string? ClientKey { get; set; }

    /// <summary>Password of a .pfx/.p12 <see cref="ClientCert"/>.</summary>
    public string? ClientCertPassword { get; set; }
}

/// <summary>Section "Mqtt:Embedded": where the in-process broker listens.</summary>
public sealed class MqttEmbeddedBrokerOptions
{
    /// <summary>127.0.0.1 keeps the broker private to the board; 0.0.0.0 lets the PLC connect over the network.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 1883;
}
