using Microsoft.Extensions.Configuration;
using SemEdge.Publishing;

namespace SemEdge.Tests.Publishing;

/// <summary>Where the broker password comes from, and the warnings about how secrets travel.</summary>
public sealed class MqttSecretsTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_password_is_the_first_line_of_the_password_file_or_of_the_systemd_credential()
    {
        File.WriteAllText(_dir.Combine("mqtt-password"), "s3cret word\r\nignored\n");
        var fromFile = External(o => o.PasswordFile = _dir.Combine("mqtt-password"));
        var fromCredential = External(o =>
        {
            o.PasswordCredential = "mqtt-password";
            o.CredentialsDirectory = _dir.Path;
        });

        Assert.True(new MqttOptionsValidator().Validate(null, fromFile).Succeeded);
        Assert.True(new MqttOptionsValidator().Validate(null, fromCredential).Succeeded);
        Assert.Equal("s3cret word", MqttSecrets.ReadPassword(fromFile));
        Assert.Equal("s3cret word", MqttSecrets.ReadPassword(fromCredential));
    }

    [Fact]
    public void A_password_source_that_cannot_be_read_stops_the_start_and_names_the_setting()
    {
        File.WriteAllText(_dir.Combine("empty"), "\n");

        Assert.Contains("Mqtt:PasswordFile: '/nonexistent/mqtt-password' cannot be read", Failure(External(o => o.PasswordFile = "/nonexistent/mqtt-password")), StringComparison.Ordinal);
        Assert.Contains("is empty (the password is its first line)", Failure(External(o => o.PasswordFile = _dir.Combine("empty"))), StringComparison.Ordinal);
        Assert.Contains(
            "$CREDENTIALS_DIRECTORY is not set: the unit needs 'LoadCredential=mqtt-password:/etc/semedge/mqtt-password'",
            Failure(External(o => o.PasswordCredential = "mqtt-password")),
            StringComparison.Ordinal);
        Assert.Contains("give the password one way only", Failure(External(o =>
        {
            o.Password = "x";
            o.PasswordFile = _dir.Combine("empty");
        })), StringComparison.Ordinal);
        Assert.Contains("Mqtt:PasswordFile is set but Mqtt:Username is empty", Failure(External(o =>
        {
            o.Username = null;
            o.PasswordFile = _dir.Combine("empty");
        })), StringComparison.Ordinal);
        Assert.Contains("the embedded broker's accounts are in Mqtt:Embedded:PasswordFile", Failure(new MqttOptions { Username = "plc" }), StringComparison.Ordinal);
    }

    [Fact]
    public void A_password_on_the_command_line_is_found_and_warned_about()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Mqtt:Tls:ClientCertPassword"] = "from a file" })
            .AddCommandLine(["--Mqtt:Password=hunter2", "--Mqtt:Username", "semedge"])
            .Build();

        var keys = PublishingServiceCollectionExtensions.SecretsOnCommandLine(configuration);
        var warning = Assert.Single(MqttSecrets.Warnings(new MqttOptions(), keys));

        Assert.Equal(["Mqtt:Password"], keys);
        Assert.Contains("Mqtt:Password was given on the command line, where every local user can read it (ps -ef)", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("plc-broker.fab.local", false, true)]
    [InlineData("10.0.0.7", false, true)]
    [InlineData("10.0.0.7", true, false)]
    [InlineData("127.0.0.1", false, false)]
    [InlineData("localhost", false, false)]
    public void Credentials_in_plaintext_to_another_host_are_warned_about(string host, bool tls, bool warned)
    {
        var options = External(o =>
        {
            o.Host = host;
            o.Password = "x";
            o.Tls.Enabled = tls;
        });

        var warnings = MqttSecrets.Warnings(options, []);

        Assert.Equal(warned, warnings.Any(w => w.Contains($"go to {host}:1883 in plaintext", StringComparison.Ordinal)));
    }

    [Fact]
    public void An_embedded_broker_open_to_the_network_without_tls_is_warned_about()
    {
        var open = new MqttOptions { Embedded = new MqttEmbeddedBrokerOptions { BindAddress = "0.0.0.0", PasswordFile = "/etc/semedge/broker.passwd" } };
        var local = new MqttOptions();

        Assert.Contains("cross the network in plaintext", Assert.Single(MqttSecrets.Warnings(open, [])), StringComparison.Ordinal);
        Assert.Empty(MqttSecrets.Warnings(local, []));
    }

    private static MqttOptions External(Action<MqttOptions> edit)
    {
        var options = new MqttOptions { Mode = MqttMode.External, Host = "127.0.0.1", Username = "semedge" };
        edit(options);
        return options;
    }

    private static string Failure(MqttOptions options)
    {
        var result = new MqttOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        return result.FailureMessage;
    }
}
