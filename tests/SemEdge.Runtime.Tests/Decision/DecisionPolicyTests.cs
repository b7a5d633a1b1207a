using SemEdge.Decision;

namespace SemEdge.Tests.Decision;

public class DecisionPolicyTests
{
    private static readonly string[] Classes =
        ["clean", "bridge", "cmp", "crack", "ler", "open", "particle", "scratch", "vias", "other"];

    [Fact]
    public void Defaults_pass_clean_reject_defects_and_review_other()
    {
        var policy = new DecisionPolicy(new DecisionOptions(), Classes);

        Assert.Equal(VerdictAction.Pass, policy.Decide(0, 0.9f));
        for (var c = 1; c <= 8; c++) Assert.Equal(VerdictAction.Reject, policy.Decide(c, 0.9f));
        Assert.Equal(VerdictAction.Review, policy.Decide(9, 0.99f));
    }

    [Fact]
    public void Below_the_class_threshold_goes_to_review()
    {
        var options = new DecisionOptions { MinConfidence = { ["crack"] = 0.8f }, DefaultMinConfidence = 0.4f };
        var policy = new DecisionPolicy(options, Classes);

        Assert.Equal(VerdictAction.Review, policy.Decide(3, 0.79f));
        Assert.Equal(VerdictAction.Reject, policy.Decide(3, 0.8f));
        Assert.Equal(VerdictAction.Reject, policy.Decide(1, 0.41f));
        Assert.Equal(VerdictAction.Review, policy.Decide(0, 0.39f));
        Assert.Equal(VerdictAction.Review, policy.Decide(0, float.NaN));
    }

    [Fact]
    public void Per_class_action_overrides_the_default()
    {
        var options = new DecisionOptions { Actions = { ["ler"] = VerdictAction.Review, ["other"] = VerdictAction.Reject } };
        var policy = new DecisionPolicy(options, Classes);

        Assert.Equal(VerdictAction.Review, policy.Decide(4, 1f));
        Assert.Equal(VerdictAction.Reject, policy.Decide(9, 1f));
    }

    [Fact]
    public void Misspelt_class_in_the_config_fails_with_the_known_classes_listed()
    {
        var options = new DecisionOptions { MinConfidence = { ["crak"] = 0.8f }, Actions = { ["bridge"] = (VerdictAction)7 } };

        var ex = Assert.Throws<ArgumentException>(() => new DecisionPolicy(options, Classes));

        Assert.Contains("'crak'", ex.Message);
        Assert.Contains("clean, bridge, cmp", ex.Message);
        Assert.Contains("Decision:Actions:bridge", ex.Message);
    }

    [Fact]
    public void Threshold_outside_zero_to_one_is_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            new DecisionPolicy(new DecisionOptions { DefaultMinConfidence = 1.5f }, Classes));

        Assert.Contains("Decision:DefaultMinConfidence", ex.Message);
    }
}
