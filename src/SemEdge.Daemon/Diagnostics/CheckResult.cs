namespace SemEdge.Diagnostics;

public enum CheckStatus
{
    Pass,
    Warn,
    Fail,
}

/// <summary>One line of <c>semedge doctor</c>: what was checked, how it went, and what it means for the technician.</summary>
public sealed record CheckResult(CheckStatus Status, string Area, string Message)
{
    public static CheckResult Pass(string area, string message) => new(CheckStatus.Pass, area, message);

    public static CheckResult Warn(string area, string message) => new(CheckStatus.Warn, area, message);

    public static CheckResult Fail(string area, string message) => new(CheckStatus.Fail, area, message);

    public override string ToString() => $"{Status.ToString().ToUpperInvariant(),-4}  {Area,-11} {Message}";
}
