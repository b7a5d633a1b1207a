using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SemEdge.Publishing;

namespace SemEdge.Tests.Publishing;

public sealed class PublishingOptionsTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Defaults_are_valid_and_embedded()
    {
        var options = new MqttOptions();
        Assert.True(new MqttOptionsValidator().Validate(null, options).Succeeded);
        Assert.True(options.IsEmbedded);
        Assert.Equal("semedge/semedge-1/verdict", options.Topic("verdict"));
        Assert.True(new OutboxOptionsValidator().Validate(null, new OutboxOptions()).Succeeded);
    }

    [Fact]
    public void Missing_ca_file_is_named_in_the_failure()
    {
        var options = new MqttOptions
        {
            Mode = MqttMode.External,
            Tls = new MqttTlsOptions { Enabled = true, CaFile = "/etc/semedge/missing-ca.pem" },
        };
        var result = new MqttOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("Mqtt:Tls:CaFile: file '/etc/semedge/missing-ca.pem' does not exist", result.FailureMessage, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("NodeId", "cell/7", "Mqtt:NodeId is 'cell/7'")]
    [InlineData("TopicPrefix", "fab/#", "Mqtt:TopicPrefix is 'fab/#'")]
    [InlineData("Port", "0", "Mqtt:Port is 0")]
    [InlineData("Embedded:BindAddress", "board.local", "Mqtt:Embedded:BindAddress 'board.local' is not an IP address")]
    [InlineData("ReconnectMax", "00:00:00.1", "Mqtt:ReconnectMax is 00:00:00.1000000: use at least Mqtt:ReconnectMin")]
    [InlineData("Tls:CaFile", "/tmp/ca.pem", "Mqtt:Tls has certificate files set but Mqtt:Tls:Enabled is false")]
    [InlineData("Password", "secret", "Mqtt:Username and the password settings are for an external broker, but Mqtt:Mode is embedded")]
    public void Bad_settings_fail_at_start_with_a_readable_message(string key, string value, string message)
    {
        using var host = Host(new Dictionary<string, string?> { [$"Mqtt:{key}"] = value });
        var ex = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<MqttOptions>>().Value);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddPublishing_runs_the_embedded_broker_and_the_publisher_in_a_host()
    {
        var port = FreePort.Next();
        using var host = Host(new Dictionary<string, string?>
        {
            ["Mqtt:NodeId"] = "cell-9",
            ["Mqtt:Embedded:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await host.StartAsync();
        try
        {
            var publisher = host.Services.GetRequiredService<MqttPublisher>();
            await Eventually.TrueAsync(() => publisher.IsConnected, "publisher connected to the embedded broker");
            await using var plc = await MqttProbe.ConnectAsync(port, "semedge/cell-9/verdict");
            var outbox = host.Services.GetRequiredService<VerdictOutbox>();
            var stored = await outbox.AppendAsync(Verdicts.Make("hosted.tif"), default);
            await Eventually.TrueAsync(() => plc.Verdicts().Count == 1, "verdict through the hosted publisher");
            Assert.Equal(stored.Seq, plc.Verdicts()[0].GetProperty("seq").GetInt64());
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task External_mode_registers_no_embedded_broker()
    {
        using var host = Host(new Dictionary<string, string?> { ["Mqtt:Mode"] = "external", ["Mqtt:Port"] = FreePort.Next().ToString(System.Globalization.CultureInfo.InvariantCulture) });
        Assert.Null(host.Services.GetService<EmbeddedBroker>());
        await host.StartAsync();
        await host.StopAsync();
    }

    private IHost Host(Dictionary<string, string?> settings)
    {
        settings["Outbox:Path"] = _dir.Combine("outbox");
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLogging();
        builder.Services.AddPublishing(builder.Configuration);
        return builder.Build();
    }
}
