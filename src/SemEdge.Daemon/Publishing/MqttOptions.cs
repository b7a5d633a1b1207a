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

    /// <summary><c>embedded</c> (a broker inside SemEdge) or <c>external</c> (connect to <see cref="Host"/>).</summary>
    public MqttMode Mode { get; set; } = MqttMode.Embedded;

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

    /// <summary>
    /// The external broker's password. Prefer <see cref="PasswordFile"/> or <see cref="PasswordCredential"/>: a value
    /// given as <c>--Mqtt:Password</c> shows in <c>ps -ef</c> to every local user (the daemon warns).
    /// </summary>
    public string? Password { get; set; }

    /// <summary>File whose first line is the password (e.g. /etc/semedge/mqtt-password, root:semedge 0640).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>
    /// Name of a systemd credential holding the password (<c>LoadCredential=NAME:/path</c> in a unit drop-in):
    /// read from <c>$CREDENTIALS_DIRECTORY/NAME</c>.
    /// </summary>
    public string? PasswordCredential { get; set; }

    /// <summary>
    /// Where systemd put the service's credentials (<c>$CREDENTIALS_DIRECTORY</c>, filled in at start); not a
    /// setting, so not bound from the configuration.
    /// </summary>
    internal string? CredentialsDirectory { get; set; }

    /// <summary>
    /// The key the daemon's own publisher presents to the embedded broker. Random per process and held in memory
    /// only: no client outside this process can present it, so no one else can use the daemon's client id or write
    /// its topics. Not a setting: the binder skips non-public properties.
    /// </summary>
    internal string DaemonSessionKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public MqttTlsOptions Tls { get; set; } = new();

    /// <summary>MQTT keep-alive: the broker drops the connection (and publishes the last will) after 1.5 × this silence.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long one connect or publish may take before the connection is considered lost.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>First wait after a failed connection; doubled on each failure up to <see cref="ReconnectMax"/>.</summary>
    public TimeSpan ReconnectMin { get; set; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan ReconnectMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the heartbeat topic is published.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(10);

    public MqttEmbeddedBrokerOptions Embedded { get; set; } = new();

    public bool IsEmbedded => Mode == MqttMode.Embedded;

    public string EffectiveClientId => string.IsNullOrWhiteSpace(ClientId) ? $"semedge-{NodeId}" : ClientId;

    public string Topic(string leaf) => $"{TopicPrefix}/{NodeId}/{leaf}";
}

/// <summary>Values of <c>Mqtt:Mode</c>.</summary>
public enum MqttMode
{
    /// <summary>A broker runs inside the daemon (<see cref="MqttOptions.Embedded"/>) and the publisher connects to it.</summary>
    Embedded,

    /// <summary>The publisher connects to <see cref="MqttOptions.Host"/>:<see cref="MqttOptions.Port"/>.</summary>
    External,
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

    /// <summary>$SSL_CERT_FILE at start: with no <see cref="CaFile"/> it replaces the system store, as for OpenSSL. Not a setting.</summary>
    internal string? SystemCertFile { get; set; }

    /// <summary>$SSL_CERT_DIR at start (folders separated by ':'), like <see cref="SystemCertFile"/>. Not a setting.</summary>
    internal string? SystemCertDir { get; set; }
}

/// <summary>
/// Section "Mqtt:Embedded": where the in-process broker listens and who may use it. On a loopback address
/// clients may connect without an account (read only); any other address needs <see cref="PasswordFile"/>.
/// </summary>
public sealed class MqttEmbeddedBrokerOptions
{
    /// <summary>127.0.0.1 keeps the broker private to the board; 0.0.0.0 lets the PLC connect over the network.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 1883;

    /// <summary>Accounts in mosquitto's password-file format (written by <c>mosquitto_passwd</c>).</summary>
    public string? PasswordFile { get; set; }

    /// <summary>Per-user topic rights in mosquitto's acl_file format (<c>user</c> and <c>topic</c> lines).</summary>
    public string? AclFile { get; set; }

    public MqttEmbeddedTlsOptions Tls { get; set; } = new();

    public bool HasAccounts => !string.IsNullOrWhiteSpace(PasswordFile);

    public bool IsLoopback => System.Net.IPAddress.TryParse(BindAddress, out var address) && System.Net.IPAddress.IsLoopback(address);
}

/// <summary>Section "Mqtt:Embedded:Tls": the embedded broker's listener speaks TLS only, with this certificate.</summary>
public sealed class MqttEmbeddedTlsOptions
{
    /// <summary>PEM certificate the broker presents (its subject alternative names must name the board).</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(CertFile) || !string.IsNullOrWhiteSpace(KeyFile);
}
