using SemEdge.Decision;
using SemEdge.Imaging;
using SemEdge.Inference;

namespace SemEdge.Tests.Inference;

public class CascadeTests
{
    [Fact]
    public void Screen_calling_an_image_clean_skips_the_classifier()
    {
        using var cascade = new Cascade(ModelSession.Load(Fixtures.Classifier), ModelSession.Load(Fixtures.Screen));
        cascade.Classifier.Input.Fill(float.NaN);

        var result = cascade.Run(Fixtures.Decode(Fixtures.GridPng(background: 0, brightCell: -1)));

        Assert.True(result.ScreenRan);
        Assert.True(result.ShortCircuited);
        Assert.Same(cascade.Screen, result.DecidedBy);
        Assert.Equal(0, result.ClassId);
        Assert.Equal(1f - result.DefectProbability, result.Confidence, 1e-6f);
        Assert.True(result.DefectProbability < 0.5f);

        // The classifier's input was never written: it did not run.
        Assert.True(float.IsNaN(cascade.Classifier.Input[0]));
    }

    [Fact]
    public void Screen_seeing_a_likely_defect_hands_the_image_to_the_classifier()
    {
        using var cascade = new Cascade(ModelSession.Load(Fixtures.Classifier), ModelSession.Load(Fixtures.Screen));

        // Mid-grey background (x = 0) with one white cell: mean cell value 2/16, screen logit 0.5 → P(defect) 0.62.
        var result = cascade.Run(Fixtures.Decode(Fixtures.GridPng(background: 128, brightCell: 6)));

        Assert.True(result.ScreenRan);
        Assert.False(result.ShortCircuited);
        Assert.Same(cascade.Classifier, result.DecidedBy);
        Assert.Equal(6, result.ClassId);
        Assert.InRange(result.DefectProbability, 0.5f, 1f);
    }

    [Fact]
    public void Without_a_screen_the_classifier_answers_every_image()
    {
        using var cascade = new Cascade(ModelSession.Load(Fixtures.Classifier));

        var result = cascade.Run(Fixtures.Decode(Fixtures.GridPng(background: 0, brightCell: 9)));

        Assert.False(result.ScreenRan);
        Assert.Equal(9, result.ClassId);
        Assert.True(float.IsNaN(result.DefectProbability));
    }

    [Fact]
    public void A_classifier_in_the_screen_slot_is_refused()
    {
        var ex = Assert.Throws<ModelLoadException>(() =>
            new Cascade(ModelSession.Load(Fixtures.Classifier), ModelSession.Load(Fixtures.Classifier)));

        Assert.Contains("screen", ex.Message);
    }
}
