namespace SemEdge.Diagnostics;

/// <summary>The site file loads and every section binds and passes the daemon's own validation.</summary>
public static class ConfigCheck
{
    public const string Area = "config";

    public static IEnumerable<CheckResult> Run(DoctorContext context)
    {
        var source = context.ConfigFile ?? "no site file (built-in defaults)";
        var failed = false;
        foreach (var problem in context.Precheck)
        {
            failed = true;
            yield return CheckResult.Fail(Area, problem);
        }

        foreach (var (name, failures) in context.Sections)
        {
            foreach (var failure in failures)
            {
                failed = true;
                yield return CheckResult.Fail(Area, failure.Contains(name, StringComparison.Ordinal) ? failure : $"{name}: {failure}");
            }
        }

        if (!failed)
        {
            yield return CheckResult.Pass(Area, $"{source}: every section is valid");
        }
    }
}
