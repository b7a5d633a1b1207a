using SemEdge.Inference.Benchmarking;

namespace SemEdge.Cli;

/// <summary>
/// The images <c>semedge bench</c> makes when it is given none: synthetic SEM frames from the generator. Only the
/// workstation's semedge has the generator; the board bundle passes none, so there bench reads --images.
/// </summary>
/// <param name="Synthesize">Images of every class at each size, <c>perSize</c> of them per size.</param>
/// <param name="CleanHeavy">A stream of <c>count</c> images, <see cref="BenchCommand.CleanHeavyCleanShare"/> of them clean.</param>
public sealed record SyntheticBenchImages(
    Func<IReadOnlyList<int>, int, IReadOnlyList<BenchImage>> Synthesize,
    Func<int, IReadOnlyList<BenchImage>> CleanHeavy);
