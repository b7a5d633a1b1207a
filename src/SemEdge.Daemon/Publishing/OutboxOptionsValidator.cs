using Microsoft.Extensions.Options;

namespace SemEdge.Publishing;

/// <summary>Start-up checks of <see cref="OutboxOptions"/>, worded for the technician who edits the config.</summary>
public sealed class OutboxOptionsValidator : IValidateOptions<OutboxOptions>
{
    public const long MinBytes = 64 * 1024;

    public ValidateOptionsResult Validate(string? name, OutboxOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            failures.Add("Outbox:Path is empty: set it to a directory on persistent storage, e.g. /var/lib/semedge/outbox.");
        }

        if (options.MaxBytes < MinBytes)
        {
            failures.Add($"Outbox:MaxBytes is {options.MaxBytes}: it must be at least {MinBytes} (64 KiB).");
        }

        if (options.MaxEntries < 1)
        {
            failures.Add($"Outbox:MaxEntries is {options.MaxEntries}: it must be at least 1.");
        }

        if (options.CompactAfterSent < 1)
        {
            failures.Add($"Outbox:CompactAfterSent is {options.CompactAfterSent}: it must be at least 1.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
