using System.Net;
using Microsoft.Extensions.Options;

namespace SemEdge.Web;

/// <summary>The technician's page (<c>Web</c> section). Off unless <see cref="Enabled"/>; see docs/web.md.</summary>
public sealed class WebOptions
{
    public const string SectionName = "Web";

    public bool Enabled { get; set; }

    /// <summary>Only 127.0.0.1 and ::1 may run without a token; any other address (the LAN) needs <see cref="TokenFile"/>.</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 takes a free one (the address is printed at start either way).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Lines of <c>NAME ROLE TOKEN</c> (ROLE is <c>read</c> or <c>label</c>); must be readable by its owner only.</summary>
    public string? TokenFile { get; set; }

    /// <summary>PEM certificate for HTTPS; with <see cref="CertificateKeyFile"/>.</summary>
    public string? CertificateFile { get; set; }

    public string? CertificateKeyFile { get; set; }

    /// <summary>Where confirmed and relabelled images go, as DIR/train/{class}/ and DIR/val/{class}/ plus labels.csv.</summary>
    public string DatasetFolder { get; set; } = "var/dataset";

    /// <summary>The page's own state: the verdict journal the archive browser reads (one JSON line per verdict, per day).</summary>
    public string StateFolder { get; set; } = "var/web";

    /// <summary>Share of labelled images that go to val/, chosen by a hash of the file name (see docs/web.md).</summary>
    public int ValidationPercent { get; set; } = 20;

    /// <summary>Requests per minute per client address; above it the page gets 429.</summary>
    public int RequestsPerMinute { get; set; } = 3000;

    /// <summary>Label posts per minute per client address.</summary>
    public int LabelsPerMinute { get; set; } = 120;

    /// <summary>Live event streams open at once (each browser tab holds one).</summary>
    public int MaxEventStreams { get; set; } = 8;

    /// <summary>Verdicts held between the pipeline and the page; when full the oldest is dropped, never the pipeline slowed.</summary>
    public int FeedCapacity { get; set; } = 1024;

    /// <summary>Live thumbnails kept in memory (the model input of the last images); older ones are decoded from the archive.</summary>
    public int LiveThumbnails { get; set; } = 128;

    public bool IsLocalBind => IPAddress.TryParse(BindAddress, out var ip) && (ip.Equals(IPAddress.Loopback) || ip.Equals(IPAddress.IPv6Loopback));

    public bool UsesTls => CertificateFile is not null;
}

internal sealed class WebOptionsValidator : IValidateOptions<WebOptions>
{
    public ValidateOptionsResult Validate(string? name, WebOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        if (!IPAddress.TryParse(options.BindAddress, out _))
        {
            failures.Add($"Web:BindAddress '{options.BindAddress}' is not an IP address.");
        }
        else if (!options.IsLocalBind && string.IsNullOrWhiteSpace(options.TokenFile))
        {
            failures.Add($"Web:BindAddress {options.BindAddress} is not 127.0.0.1 or ::1: a bind beyond this machine needs Web:TokenFile.");
        }

        if (options.Port is < 0 or > 65535)
        {
            failures.Add($"Web:Port {options.Port} is not a TCP port.");
        }

        if (options.TokenFile is { } tokens)
        {
            try
            {
                WebTokens.Load(tokens);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                failures.Add($"Web:TokenFile: {ex.Message}");
            }
        }

        if ((options.CertificateFile is null) != (options.CertificateKeyFile is null))
        {
            failures.Add("Web:CertificateFile and Web:CertificateKeyFile go together.");
        }
        else if (options.CertificateFile is { } cert && (!File.Exists(cert) || !File.Exists(options.CertificateKeyFile)))
        {
            failures.Add($"Web:CertificateFile {cert} or its key {options.CertificateKeyFile} does not exist.");
        }

        if (options.ValidationPercent is < 0 or > 50)
        {
            failures.Add($"Web:ValidationPercent {options.ValidationPercent} must be 0..50.");
        }

        if (options.RequestsPerMinute < 1 || options.LabelsPerMinute < 1 || options.MaxEventStreams < 1 || options.FeedCapacity < 1)
        {
            failures.Add("Web:RequestsPerMinute, LabelsPerMinute, MaxEventStreams and FeedCapacity must be at least 1.");
        }

        if (options.LiveThumbnails is < 1 or > 4096)
        {
            failures.Add($"Web:LiveThumbnails {options.LiveThumbnails} must be 1..4096 (each holds about 30 KB).");
        }

        if (string.IsNullOrWhiteSpace(options.DatasetFolder) || string.IsNullOrWhiteSpace(options.StateFolder))
        {
            failures.Add("Web:DatasetFolder and Web:StateFolder must be set.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
