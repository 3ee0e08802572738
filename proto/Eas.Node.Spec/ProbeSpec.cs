namespace Eas.Node.Spec;

/// <summary>
/// A health check of <c>containers[0]</c> (<c>startup_check</c>, <c>readiness_check</c> or <c>liveness_check</c>),
/// with Kubernetes' probe semantics and defaults: exactly one of <see cref="HttpGet"/>, <see cref="TcpSocket"/> and
/// <see cref="Exec"/>, first run <see cref="InitialDelaySeconds"/> after the container starts, then every
/// <see cref="PeriodSeconds"/>; <see cref="FailureThreshold"/> failures in a row make it fail,
/// <see cref="SuccessThreshold"/> successes in a row make it pass again.
/// </summary>
public sealed record ProbeSpec
{
    /// <summary>The default of <see cref="InitialDelaySeconds"/> (Kubernetes').</summary>
    public const int DefaultInitialDelaySeconds = 0;

    /// <summary>The default of <see cref="PeriodSeconds"/>.</summary>
    public const int DefaultPeriodSeconds = 10;

    /// <summary>The default of <see cref="TimeoutSeconds"/>.</summary>
    public const int DefaultTimeoutSeconds = 1;

    /// <summary>The default of <see cref="FailureThreshold"/>.</summary>
    public const int DefaultFailureThreshold = 3;

    /// <summary>The default of <see cref="SuccessThreshold"/> (and the only value allowed for liveness and startup checks).</summary>
    public const int DefaultSuccessThreshold = 1;

    /// <summary><c>http_get {path, port, scheme}</c>: passes on a status code from 200 to 399.</summary>
    public HttpGetProbe? HttpGet { get; init; }

    /// <summary><c>tcp_socket {port}</c>: passes when a TCP connection opens.</summary>
    public TcpSocketProbe? TcpSocket { get; init; }

    /// <summary><c>exec {command}</c>: passes when the command, run inside the instance, exits with 0.</summary>
    public ExecProbe? Exec { get; init; }

    /// <summary><c>initial_delay_seconds</c>: seconds after the container starts before the first check (default 0).</summary>
    public int InitialDelaySeconds { get; init; } = DefaultInitialDelaySeconds;

    /// <summary><c>period_seconds</c>: seconds between checks (default 10).</summary>
    public int PeriodSeconds { get; init; } = DefaultPeriodSeconds;

    /// <summary><c>timeout_seconds</c>: a check that takes longer fails (default 1).</summary>
    public int TimeoutSeconds { get; init; } = DefaultTimeoutSeconds;

    /// <summary><c>failure_threshold</c>: failures in a row before the probe counts as failed (default 3).</summary>
    public int FailureThreshold { get; init; } = DefaultFailureThreshold;

    /// <summary><c>success_threshold</c>: successes in a row before a failed probe passes again (default 1).</summary>
    public int SuccessThreshold { get; init; } = DefaultSuccessThreshold;

    /// <summary>The check's kind as the JSON spells it: <c>http_get</c>, <c>tcp_socket</c> or <c>exec</c>.</summary>
    public string Kind =>
        HttpGet is not null ? ProbeKinds.HttpGet
        : TcpSocket is not null ? ProbeKinds.TcpSocket
        : Exec is not null ? ProbeKinds.Exec
        : string.Empty;
}

/// <summary>The probe kind names of the JSON.</summary>
public static class ProbeKinds
{
    /// <summary><c>http_get</c>.</summary>
    public const string HttpGet = "http_get";

    /// <summary><c>tcp_socket</c>.</summary>
    public const string TcpSocket = "tcp_socket";

    /// <summary><c>exec</c>.</summary>
    public const string Exec = "exec";

    /// <summary>Every kind, in the order messages list them.</summary>
    public static IReadOnlyList<string> All { get; } = [HttpGet, TcpSocket, Exec];
}

/// <summary><c>http_get</c>: a GET from the node to the instance's address.</summary>
/// <param name="Path">The request path and query, starting with <c>/</c> (default <c>/</c>).</param>
/// <param name="Port">1–65535, or null for <c>containers[0].port</c>.</param>
/// <param name="Scheme"><c>HTTP</c> (default) or <c>HTTPS</c> (the certificate is not verified, as in Kubernetes).</param>
public sealed record HttpGetProbe(string Path, int? Port, string Scheme)
{
    /// <summary>Plain HTTP.</summary>
    public const string Http = "HTTP";

    /// <summary>HTTPS.</summary>
    public const string Https = "HTTPS";
}

/// <summary><c>tcp_socket</c>: a TCP connect from the node to the instance's address.</summary>
/// <param name="Port">1–65535, or null for <c>containers[0].port</c>.</param>
public sealed record TcpSocketProbe(int? Port);

/// <summary><c>exec</c>: a command run inside the instance (its namespaces, cgroup and environment), without a shell.</summary>
public sealed record ExecProbe
{
    /// <summary>Creates the check.</summary>
    public ExecProbe(IReadOnlyList<string> command) => Command = command;

    /// <summary>The program and its arguments; the first is non-empty.</summary>
    public IReadOnlyList<string> Command { get; init; }

    /// <summary>Value equality, the command compared word by word.</summary>
    public bool Equals(ExecProbe? other) => other is not null && Command.SequenceEqual(other.Command);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = default(HashCode);
        foreach (var word in Command)
        {
            hash.Add(word);
        }

        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() => $"ExecProbe {{ Command = [{string.Join(", ", Command)}] }}";
}
