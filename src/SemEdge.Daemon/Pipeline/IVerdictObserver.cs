using SemEdge.Decision;

namespace SemEdge.Pipeline;

/// <summary>
/// Told of every verdict once it is durable, signalled and archived (the technician's page is one). Called on the
/// inspection path, so an implementation must return at once and never block: hand the verdict to a bounded,
/// drop-oldest queue and do the work elsewhere.
/// </summary>
public interface IVerdictObserver
{
    /// <param name="verdict">The durable verdict (seq assigned).</param>
    /// <param name="archivedPath">Where the image was archived, or null when deleted or the archiving failed.</param>
    void OnVerdict(Verdict verdict, string? archivedPath);
}
