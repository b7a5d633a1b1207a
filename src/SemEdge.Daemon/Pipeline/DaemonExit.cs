namespace SemEdge.Pipeline;

/// <summary>Why the daemon stopped on its own, for the exit code of <c>semedge run</c>.</summary>
public sealed class DaemonExit
{
    private string? _failure;

    public string? Failure => Volatile.Read(ref _failure);

    public void Fail(string reason) => Interlocked.CompareExchange(ref _failure, reason, null);
}
