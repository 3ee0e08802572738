using Microsoft.Extensions.Logging.Abstractions;

namespace Eas.Node.Gateway.Logging;

/// <summary>
/// Wraps the host's logger factory so that ASP.NET Core hosting and YARP log nothing below Warning: both log every
/// request at Information/Debug ("Request starting", "Proxying to"), which costs a large share of a proxy's
/// throughput. The per-request hosting category logs nothing at all (see <see cref="PerRequestHosting"/>). The
/// gateway's own events pass through unchanged. The wrapped factory stays owned by the caller.
/// </summary>
internal sealed class QuietLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>
    /// ASP.NET Core's hosting starts an <c>Activity</c> and a logging scope for every request whenever this category
    /// is enabled at any level, Critical included (two AsyncLocal writes, an ExecutionContext and about 0.5 KB per
    /// request); it only logs "Request starting/finished" there, so the gateway turns it off entirely. Startup
    /// failures still surface: they are thrown to the host.
    /// </summary>
    internal const string PerRequestHosting = "Microsoft.AspNetCore.Hosting.Diagnostics";

    public ILogger CreateLogger(string categoryName)
    {
        if (string.Equals(categoryName, PerRequestHosting, StringComparison.Ordinal))
        {
            return NullLogger.Instance;
        }

        var logger = inner.CreateLogger(categoryName);
        return IsPerRequest(categoryName) ? new MinimumLevelLogger(logger, LogLevel.Warning) : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose()
    {
        // The caller owns the wrapped factory.
    }

    private static bool IsPerRequest(string category) =>
        category.StartsWith("Yarp.", StringComparison.Ordinal)
        || (category.StartsWith("Microsoft.AspNetCore.", StringComparison.Ordinal)
            && !category.StartsWith("Microsoft.AspNetCore.Hosting.Lifetime", StringComparison.Ordinal));

    private sealed class MinimumLevelLogger(ILogger inner, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= minimum)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
