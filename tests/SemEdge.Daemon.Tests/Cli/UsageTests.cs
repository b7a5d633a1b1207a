using SemEdge.Cli;

namespace SemEdge.Tests.Cli;

public class UsageTests
{
    [Theory]
    [InlineData("no-such-command")]
    [InlineData("classify", "--no-such-option")]
    public async Task Bad_arguments_exit_with_usage_code(params string[] args)
    {
        var code = await SemEdgeCli.RunAsync(args, CancellationToken.None);
        Assert.Equal(SemEdgeCli.ExitUsage, code);
    }
}
