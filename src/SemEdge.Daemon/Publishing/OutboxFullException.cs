namespace SemEdge.Publishing;

/// <summary>
/// The outbox refused a verdict because it is at its configured bound. The caller keeps the image where it is
/// and waits (<see cref="VerdictOutbox.WaitUntilAcceptingAsync"/>) instead of dropping anything.
/// </summary>
public sealed class OutboxFullException : Exception
{
    public OutboxFullException(string message)
        : base(message)
    {
    }
}
