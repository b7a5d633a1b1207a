using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Hosting;
using SemEdge.Synthesis;

namespace SemEdge.Tests.Decision;

public class ClassTableTests
{
    [Fact]
    public void Default_table_numbers_the_ten_generator_classes_0_to_9()
    {
        var table = ClassTable.From(ClassTable.DefaultNumbers());

        Assert.Equal(SemClasses.Names, ClassTable.DefaultNames);
        Assert.Equal(Enumerable.Range(0, 10), table.Entries.Select(e => e.Number));
        Assert.Equal(8, table.NumberOf("vias"));
    }

    [Fact]
    public void A_model_maps_by_name_whatever_its_order_and_a_missing_class_keeps_the_others_numbers()
    {
        var policy = new DecisionPolicy(new DecisionOptions(), ["other", "vias", "clean", "bridge"]);

        Assert.Equal([9, 8, 0, 1], Enumerable.Range(0, 4).Select(policy.NumberOf));
        Assert.Equal(["cmp", "crack", "ler", "open", "particle", "scratch"], policy.Missing.Select(m => m.Label));
        // Actions still follow the label, not the position.
        Assert.Equal(VerdictAction.Review, policy.Decide(0, 0.99f));
        Assert.Equal(VerdictAction.Pass, policy.Decide(2, 0.99f));
    }

    [Fact]
    public void A_model_with_a_class_the_table_does_not_know_is_refused_naming_the_class()
    {
        var ex = Assert.Throws<ArgumentException>(() => new DecisionPolicy(new DecisionOptions(), ["clean", "residue"]));

        Assert.Contains("'residue'", ex.Message);
        Assert.Contains("Decision:ClassNumbers:residue=10", ex.Message);
    }

    [Fact]
    public void Renumbered_and_added_classes_apply_and_two_classes_on_one_number_are_refused()
    {
        var options = new DecisionOptions();
        options.ClassNumbers["residue"] = 10;
        options.ClassNumbers["vias"] = 20;
        var policy = new DecisionPolicy(options, ["vias", "residue", "clean"]);
        Assert.Equal([20, 10, 0], Enumerable.Range(0, 3).Select(policy.NumberOf));

        options.ClassNumbers["other"] = 0;
        var errors = DecisionPolicy.ValidateSettings(options);
        Assert.Contains(errors, e => e.Contains("gives number 0 to clean and other", StringComparison.Ordinal));
    }

    [Fact]
    public void Table_from_config_merges_with_the_defaults_and_a_per_class_typo_fails_start()
    {
        using var dir = new TempFolder();
        var site = Path.Combine(dir.Path, "site.json");
        File.WriteAllText(site, "{}");
        using var host = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = site,
            ReadEnvironment = false,
            Overrides = ["--Decision:ClassNumbers:residue=10", "--Decision:ClassNumbers:vias=12", "--Decision:Actions:scrach=Review"],
        });

        var problems = DaemonHost.CheckSettings(host.Services);

        Assert.Contains(problems, p => p.Contains("Decision:Actions names class 'scrach', which the class table does not have", StringComparison.Ordinal));
        using var good = DaemonHost.Build(new DaemonHostSettings
        {
            SiteConfig = site,
            ReadEnvironment = false,
            Overrides = ["--Decision:ClassNumbers:residue=10", "--Decision:ClassNumbers:vias=12"],
        });
        var numbers = good.Services.GetRequiredService<IOptions<DecisionOptions>>().Value.ClassNumbers;
        Assert.Equal(11, numbers.Count);
        Assert.Equal((12, 10, 0), (numbers["vias"], numbers["residue"], numbers["clean"]));
    }
}
