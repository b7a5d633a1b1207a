using SemEdge.Cli;

return await WorkstationCli.RunAsync(args, CancellationToken.None);
