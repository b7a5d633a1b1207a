using SemEdge.Cli;

return await SemEdgeCli.RunAsync(args, CancellationToken.None);
