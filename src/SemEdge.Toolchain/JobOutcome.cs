namespace SemEdge.Toolchain;

/// <summary>How a toolchain job ended; the command line turns it into an exit code.</summary>
public enum JobOutcome
{
    /// <summary>The job did what it was asked and wrote its outputs.</summary>
    Succeeded,

    /// <summary>The job ran and failed (a model it cannot quantize, no decodable image); it said why on stderr.</summary>
    Failed,
}

/// <summary>
/// A job's request is unusable (a missing file, an out-of-range setting): the caller's mistake, found before
/// any work. The command line prints the message as one line and exits as for bad usage.
/// </summary>
public sealed class JobInputException(string message) : Exception(message);
