using System.Net;
using Microsoft.Extensions.Options;

namespace SemEdge.Publishing;

/// <summary>Start-up checks of <see cref="MqttOptions"/>, worded for the technician who edits the config.</summary>
public sealed class MqttOptionsValidator : IValidateOptions<MqttOptions>
{
    public ValidateOptionsResult Validate(string? name, MqttOptions options)
    {
        var failures = new List<string>();
        var embedded = options.IsEmbedded;

        if (!embedded && string.IsNullOrWhiteSpace(options.Host))
        {
            failures.Add("Mqtt:Host is empty: set the broker's host name or address (Mqtt:Mode is external).");
        }

        CheckPort(failures, "Mqtt:Port", options.Port);
        CheckTopicSegment(failures, "Mqtt:NodeId", options.NodeId);
        CheckTopicPrefix(failures, options.TopicPrefix);

        if (options.EffectiveClientId.Length > 64)
        {
            failures.Add($"Mqtt:ClientId '{options.EffectiveClientId}' is longer than 64 characters; some brokers refuse it.");
        }

        CheckCredentials(failures, options);

        // The MQTT keep-alive travels in whole seconds (at most 65535).
        if (options.KeepAlive < TimeSpan.FromSeconds(1) || options.KeepAlive > TimeSpan.FromHours(1))
        {
            failures.Add($"Mqtt:KeepAlive is {options.KeepAlive}: use 00:00:01 to 01:00:00.");
        }

        if (options.OperationTimeout < TimeSpan.FromSeconds(1) || options.OperationTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"Mqtt:OperationTimeout is {options.OperationTimeout}: use 00:00:01 to 00:10:00.");
        }

        if (options.ReconnectMin < TimeSpan.FromMilliseconds(10))
        {
            failures.Add($"Mqtt:ReconnectMin is {options.ReconnectMin}: use at least 00:00:00.01.");
        }
        else if (options.ReconnectMax < options.ReconnectMin || options.ReconnectMax > TimeSpan.FromHours(1))
        {
            failures.Add(
                $"Mqtt:ReconnectMax is {options.ReconnectMax}: use at least Mqtt:ReconnectMin ({options.ReconnectMin}) and at most 01:00:00.");
        }

        if (options.HeartbeatInterval < TimeSpan.FromMilliseconds(100) || options.HeartbeatInterval > TimeSpan.FromDays(1))
        {
            failures.Add($"Mqtt:HeartbeatInterval is {options.HeartbeatInterval}: use 00:00:00.1 to 1.00:00:00.");
        }

        if (embedded)
        {
            if (!IPAddress.TryParse(options.Embedded.BindAddress, out _))
            {
                failures.Add($"Mqtt:Embedded:BindAddress '{options.Embedded.BindAddress}' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0).");
            }

            CheckPort(failures, "Mqtt:Embedded:Port", options.Embedded.Port);
            CheckEmbeddedAccess(failures, options);
        }

        CheckTls(failures, options.Tls, embedded);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckTls(List<string> failures, MqttTlsOptions tls, bool embedded)
    {
        var anyFile = !string.IsNullOrWhiteSpace(tls.CaFile) || !string.IsNullOrWhiteSpace(tls.ClientCert) || !string.IsNullOrWhiteSpace(tls.ClientKey);
        if (!tls.Enabled)
        {
            if (anyFile)
            {
                // Silently talking plain MQTT when someone configured certificates would be a nasty surprise.
                failures.Add("Mqtt:Tls has certificate files set but Mqtt:Tls:Enabled is false: set it to true, or remove the files.");
            }

            return;
        }

        if (embedded)
        {
            failures.Add("Mqtt:Tls:Enabled is true but Mqtt:Mode is embedded: Mqtt:Tls is for an external broker; the embedded broker's listener takes Mqtt:Embedded:Tls:CertFile and KeyFile.");
        }

        CheckFile(failures, "Mqtt:Tls:CaFile", tls.CaFile, required: false);
        CheckFile(failures, "Mqtt:Tls:ClientCert", tls.ClientCert, required: false);
        var pfx = IsPfx(tls.ClientCert);
        if (!string.IsNullOrWhiteSpace(tls.ClientCert) && !pfx)
        {
            CheckFile(failures, "Mqtt:Tls:ClientKey", tls.ClientKey, required: true);
        }

        if (string.IsNullOrWhiteSpace(tls.ClientCert) && !string.IsNullOrWhiteSpace(tls.ClientKey))
        {
            failures.Add("Mqtt:Tls:ClientKey is set but Mqtt:Tls:ClientCert is empty.");
        }
    }

    private static void CheckCredentials(List<string> failures, MqttOptions options)
    {
        var sources = new[] { ("Mqtt:Password", options.Password), ("Mqtt:PasswordFile", options.PasswordFile), ("Mqtt:PasswordCredential", options.PasswordCredential) }
            .Where(s => !string.IsNullOrWhiteSpace(s.Item2))
            .Select(s => s.Item1)
            .ToList();
        if (options.IsEmbedded)
        {
            if (!string.IsNullOrEmpty(options.Username) || sources.Count > 0)
            {
                failures.Add(
                    "Mqtt:Username and the password settings are for an external broker, but Mqtt:Mode is embedded: the embedded broker's " +
                    "accounts are in Mqtt:Embedded:PasswordFile (made with mosquitto_passwd), and the daemon logs in to it by itself.");
            }

            return;
        }

        if (sources.Count > 1)
        {
            failures.Add($"{string.Join(" and ", sources)} are all set: give the password one way only.");
            return;
        }

        if (sources.Count == 1 && string.IsNullOrEmpty(options.Username))
        {
            failures.Add($"{sources[0]} is set but Mqtt:Username is empty.");
            return;
        }

        if (!string.IsNullOrWhiteSpace(options.PasswordCredential) &&
            options.PasswordCredential.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            failures.Add($"Mqtt:PasswordCredential '{options.PasswordCredential}' is not a credential name (letters, digits, '-', '_', '.').");
            return;
        }

        try
        {
            // Read once at start, so a missing file or credential stops the start instead of every reconnect.
            MqttSecrets.ReadPassword(options);
        }
        catch (InvalidOperationException ex)
        {
            failures.Add(ex.Message);
        }
    }

    private static void CheckEmbeddedAccess(List<string> failures, MqttOptions options)
    {
        var embedded = options.Embedded;
        if (!IPAddress.TryParse(embedded.BindAddress, out _))
        {
            return;
        }

        if (!embedded.IsLoopback && !embedded.HasAccounts)
        {
            failures.Add(EmbeddedBrokerAccess.NoAccountsMessage(embedded.BindAddress));
        }

        if (!string.IsNullOrWhiteSpace(embedded.AclFile) && !embedded.HasAccounts)
        {
            failures.Add("Mqtt:Embedded:AclFile is set but Mqtt:Embedded:PasswordFile is empty: the ACL names accounts, so the broker needs them.");
        }

        try
        {
            if (embedded.HasAccounts)
            {
                MosquittoPasswordFile.Load(embedded.PasswordFile!);
            }

            if (!string.IsNullOrWhiteSpace(embedded.AclFile))
            {
                MosquittoAclFile.Load(embedded.AclFile);
            }
        }
        catch (InvalidDataException ex)
        {
            failures.Add(ex.Message);
        }

        var tls = embedded.Tls;
        if (!tls.Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(tls.CertFile) || string.IsNullOrWhiteSpace(tls.KeyFile))
        {
            failures.Add("Mqtt:Embedded:Tls needs both CertFile (PEM certificate) and KeyFile (its PEM private key).");
            return;
        }

        CheckFile(failures, "Mqtt:Embedded:Tls:CertFile", tls.CertFile, required: true);
        CheckFile(failures, "Mqtt:Embedded:Tls:KeyFile", tls.KeyFile, required: true);
        if (File.Exists(tls.CertFile) && File.Exists(tls.KeyFile))
        {
            try
            {
                EmbeddedBroker.LoadServerCertificate(tls).Dispose();
            }
            catch (InvalidDataException ex)
            {
                failures.Add(ex.Message);
            }
        }
    }

    internal static bool IsPfx(string? path) =>
        path is not null && (path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".p12", StringComparison.OrdinalIgnoreCase));

    private static void CheckFile(List<string> failures, string key, string? path, bool required)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            if (required)
            {
                failures.Add($"{key} is empty: a PEM client certificate needs its private key file.");
            }

            return;
        }

        if (!File.Exists(path))
        {
            failures.Add($"{key}: file '{path}' does not exist (or SemEdge may not read it).");
        }
    }

    private static void CheckPort(List<string> failures, string key, int port)
    {
        if (port is < 1 or > 65535)
        {
            failures.Add($"{key} is {port}: use a TCP port from 1 to 65535.");
        }
    }

    private static void CheckTopicSegment(List<string> failures, string key, string value)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            failures.Add($"{key} is '{value}': use letters, digits, '-', '_' or '.' only (it becomes part of MQTT topics).");
        }
    }

    private static void CheckTopicPrefix(List<string> failures, string value)
    {
        var segments = value?.Split('/') ?? [];
        if (string.IsNullOrWhiteSpace(value) || segments.Any(s => s.Length == 0 || s.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))))
        {
            failures.Add($"Mqtt:TopicPrefix is '{value}': use segments of letters, digits, '-', '_' or '.', separated by '/', no wildcards.");
        }
    }
}
