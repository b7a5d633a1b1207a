namespace SemEdge.Cli;

/// <summary>
/// A bad argument or option value found after parsing. Printed as one line, exit code 2.
/// </summary>
public sealed class UsageException(string message) : Exception(message);
