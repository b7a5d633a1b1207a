using System.Security.Cryptography;
using System.Text;
using MQTTnet.Protocol;

namespace SemEdge.Publishing;

/// <summary>Who a client of the embedded broker is, decided once at CONNECT.</summary>
public enum BrokerClientKind
{
    /// <summary>The daemon's own publisher: in process, or a client presenting the in-process session key.</summary>
    Daemon,

    /// <summary>No account: only on a loopback listener without a password file; may read, never write.</summary>
    Anonymous,

    /// <summary>Logged in with an account of Mqtt:Embedded:PasswordFile.</summary>
    Account,
}

public sealed record BrokerClient(BrokerClientKind Kind, string? User);

/// <summary>
/// The embedded broker's rules, in one place so they can be read and tested without a network:
/// <list type="bullet">
/// <item>The daemon's client id is reserved: only a client presenting the in-process session key may use it, so
/// nobody can take the daemon's session over.</item>
/// <item>The daemon's topics (<c>PREFIX/NODE/status|verdict|heartbeat|model|alarm</c>) are written by the daemon only,
/// whatever the ACL says; no one else may write anything under <c>PREFIX/NODE/</c> unless the ACL grants it
/// (an acknowledgement topic, say).</item>
/// <item>Without a password file (allowed on loopback only) clients connect anonymously and may subscribe to
/// anything but publish nothing.</item>
/// <item>With a password file every client logs in; with an ACL file it reads and writes what its block grants,
/// without one it may read everything and write nothing.</item>
/// </list>
/// </summary>
public sealed class EmbeddedBrokerAccess
{
    private static readonly string[] DaemonLeaves = ["status", "verdict", "heartbeat", "model", "alarm"];
    private readonly MqttOptions _options;
    private readonly byte[] _sessionKey;
    private readonly MosquittoPasswordFile? _accounts;
    private readonly MosquittoAclFile? _acl;

    private EmbeddedBrokerAccess(MqttOptions options, MosquittoPasswordFile? accounts, MosquittoAclFile? acl)
    {
        _options = options;
        _sessionKey = Encoding.UTF8.GetBytes(options.DaemonSessionKey);
        _accounts = accounts;
        _acl = acl;
    }

    public string DaemonClientId => _options.EffectiveClientId;

    public bool HasAccounts => _accounts is not null;

    /// <summary>
    /// Loads the password and ACL files. Throws <see cref="InvalidOperationException"/> naming the setting when a
    /// non-loopback listener has no accounts, and <see cref="InvalidDataException"/> for a file that cannot be used.
    /// </summary>
    public static EmbeddedBrokerAccess Load(MqttOptions options)
    {
        var embedded = options.Embedded;
        if (!embedded.IsLoopback && !embedded.HasAccounts)
        {
            throw new InvalidOperationException(NoAccountsMessage(embedded.BindAddress));
        }

        var accounts = embedded.HasAccounts ? MosquittoPasswordFile.Load(embedded.PasswordFile!) : null;
        var acl = string.IsNullOrWhiteSpace(embedded.AclFile) ? null : MosquittoAclFile.Load(embedded.AclFile);
        return new EmbeddedBrokerAccess(options, accounts, acl);
    }

    /// <summary>Why a listener reachable from the network must have accounts; shared by the validator and the broker.</summary>
    public static string NoAccountsMessage(string bindAddress) =>
        $"Mqtt:Embedded:BindAddress is {bindAddress}, reachable from the network, but Mqtt:Embedded:PasswordFile is empty: " +
        "anyone on the line network could read the verdicts and log in. Give the broker accounts " +
        "(Mqtt:Embedded:PasswordFile, made with mosquitto_passwd, and Mqtt:Embedded:AclFile), or bind it to 127.0.0.1.";

    /// <summary>Decides a CONNECT; on refusal the reason code goes to the client and the reason to the log.</summary>
    public (MqttConnectReasonCode Code, string? Reason, BrokerClient? Client) Authenticate(string? clientId, string? user, ReadOnlySpan<byte> password)
    {
        if (string.Equals(clientId, DaemonClientId, StringComparison.Ordinal))
        {
            // Constant time: the key must not leak through how fast a wrong one is refused.
            return CryptographicOperations.FixedTimeEquals(password, _sessionKey)
                ? (MqttConnectReasonCode.Success, null, new BrokerClient(BrokerClientKind.Daemon, null))
                : (MqttConnectReasonCode.ClientIdentifierNotValid, $"client id '{clientId}' is reserved for the SemEdge daemon itself", null);
        }

        if (_accounts is null)
        {
            return string.IsNullOrEmpty(user)
                ? (MqttConnectReasonCode.Success, null, new BrokerClient(BrokerClientKind.Anonymous, null))
                : (MqttConnectReasonCode.BadUserNameOrPassword, $"user '{user}': the broker has no accounts (Mqtt:Embedded:PasswordFile is empty); connect without a username", null);
        }

        if (string.IsNullOrEmpty(user))
        {
            return (MqttConnectReasonCode.NotAuthorized, "no username: this broker needs an account from Mqtt:Embedded:PasswordFile", null);
        }

        return _accounts.Verify(user, password)
            ? (MqttConnectReasonCode.Success, null, new BrokerClient(BrokerClientKind.Account, user))
            : (MqttConnectReasonCode.BadUserNameOrPassword, $"user '{user}': unknown user or wrong password", null);
    }

    /// <summary>Null when the client may publish to the topic, else why not (for the log).</summary>
    public string? RefusePublish(BrokerClient client, string topic)
    {
        if (client.Kind == BrokerClientKind.Daemon)
        {
            return null;
        }

        if (IsDaemonTopic(topic))
        {
            return $"only the SemEdge daemon writes {topic}";
        }

        return client.Kind switch
        {
            BrokerClientKind.Anonymous => "anonymous clients may only subscribe",
            _ when _acl is null => "no Mqtt:Embedded:AclFile grants writes",
            _ when _acl.MayPublish(client.User!, topic) => null,
            _ => $"Mqtt:Embedded:AclFile grants user '{client.User}' no write to it",
        };
    }

    /// <summary>Null when the client may subscribe to the filter, else why not.</summary>
    public string? RefuseSubscribe(BrokerClient client, string filter)
    {
        if (client.Kind != BrokerClientKind.Account || _acl is null)
        {
            return null;
        }

        return _acl.MaySubscribe(client.User!, filter)
            ? null
            : $"Mqtt:Embedded:AclFile grants user '{client.User}' no read covering '{filter}'";
    }

    private bool IsDaemonTopic(string topic) =>
        DaemonLeaves.Any(leaf => string.Equals(topic, _options.Topic(leaf), StringComparison.Ordinal));
}
