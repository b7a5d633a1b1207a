using Microsoft.Extensions.Logging;

namespace SemEdge.Diagnostics;

/// <summary>Keeps the warnings a component logs, so the doctor can show the reasons on its own line.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly List<string> _warnings = [];

    public IReadOnlyList<string> Warnings => _warnings;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            _warnings.Add(formatter(state, exception));
        }
    }
}
