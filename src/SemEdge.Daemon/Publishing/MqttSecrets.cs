using System.Net;

namespace SemEdge.Publishing;

/// <summary>
/// Where the external broker's password comes from (Mqtt:Password, Mqtt:PasswordFile or the systemd credential
/// Mqtt:PasswordCredential), and the warnings a technician should see about how secrets travel.
/// </summary>
public static class MqttSecrets
{
    /// <summary>Settings that hold a secret; given on the command line they show in <c>ps -ef</c>.</summary>
    public static readonly string[] SecretKeys = ["Mqtt:Password", "Mqtt:Tls:ClientCertPassword"];

    /// <summary>
    /// The password, or null when none is configured. Throws <see cref="InvalidOperationException"/> with the
    /// setting's name when its file or credential cannot be read.
    /// </summary>
    public static string? ReadPassword(MqttOptions options)
    {
        if (!string.IsNullOrEmpty(options.Password))
        {
            return options.Password;
        }

        if (!string.IsNullOrWhiteSpace(options.PasswordFile))
        {
            return ReadFirstLine("Mqtt:PasswordFile", options.PasswordFile);
        }

        if (!string.IsNullOrWhiteSpace(options.PasswordCredential))
        {
            var directory = options.CredentialsDirectory;
            if (string.IsNullOrEmpty(directory))
            {
                throw new InvalidOperationException(
                    $"Mqtt:PasswordCredential is '{options.PasswordCredential}' but $CREDENTIALS_DIRECTORY is not set: the unit needs " +
                    $"'LoadCredential={options.PasswordCredential}:/etc/semedge/{options.PasswordCredential}' (systemctl edit semedge).");
            }

            return ReadFirstLine("Mqtt:PasswordCredential", Path.Combine(directory, options.PasswordCredential));
        }

        return null;
    }

    /// <summary>What a technician should be told about how the MQTT secrets travel; empty when all is well.</summary>
    public static IReadOnlyList<string> Warnings(MqttOptions options, IEnumerable<string> secretsOnCommandLine)
    {
        var warnings = new List<string>();
        foreach (var key in secretsOnCommandLine)
        {
            warnings.Add(
                $"{key} was given on the command line, where every local user can read it (ps -ef): " +
                "put it in Mqtt:PasswordFile or a systemd credential (LoadCredential= with Mqtt:PasswordCredential) instead.");
        }

        if (options.IsEmbedded)
        {
            if (!options.Embedded.IsLoopback && !options.Embedded.Tls.Enabled)
            {
                warnings.Add(
                    $"the embedded broker listens on {options.Embedded.BindAddress} without TLS: the PLC accounts' passwords and the verdicts " +
                    "cross the network in plaintext. Set Mqtt:Embedded:Tls:CertFile and KeyFile.");
            }
        }
        else if (!string.IsNullOrEmpty(options.Username) && !options.Tls.Enabled && !IsLoopback(options.Host))
        {
            warnings.Add(
                $"Mqtt:Username '{options.Username}' and its password go to {options.Host}:{options.Port} in plaintext: " +
                "anyone on the network path can read them. Set Mqtt:Tls:Enabled (the broker's TLS port is usually 8883).");
        }

        return warnings;
    }

    internal static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private static string ReadFirstLine(string key, string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{key}: '{path}' cannot be read ({ex.Message}).", ex);
        }

        var line = text.Split('\n', 2)[0].TrimEnd('\r');
        return line.Length > 0 ? line : throw new InvalidOperationException($"{key}: '{path}' is empty (the password is its first line).");
    }
}
