using SemEdge.Decision;
using SemEdge.Imaging;

namespace SemEdge.Pipeline;

/// <summary>
/// Told of the input tensor the models decided on, right after each inspection (the technician's page keeps the last
/// few as its live thumbnails, so it never decodes an image again for them). Called on the inference stage with
/// the prepared image's own tensor, which a later image reuses: an implementation copies what it needs and returns at
/// once; it never blocks and never keeps the span.
/// </summary>
public interface IModelInputObserver
{
    /// <param name="verdict">The verdict as inspected (Seq not yet assigned); its Image and Timestamp identify it later.</param>
    /// <param name="input">The normalised Height×Width grey plane (<paramref name="preprocessing"/> says how it was made).</param>
    /// <param name="preprocessing">Size, mean and std of <paramref name="input"/>.</param>
    /// <param name="imageWidth">The decoded image's width (the input is squeezed to the model's size).</param>
    /// <param name="imageHeight">The decoded image's height.</param>
    void OnModelInput(Verdict verdict, ReadOnlySpan<float> input, Preprocessing preprocessing, int imageWidth, int imageHeight);
}
