namespace Eas.Node.Gateway.Tests.Llm;

/// <summary>A clock the test moves by hand (timestamps in milliseconds); timers still run on real time.</summary>
internal sealed class ManualTime : TimeProvider
{
    private long _now = 1_000_000;

    public override long TimestampFrequency => 1000;

    public override long GetTimestamp() => Interlocked.Read(ref _now);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _now, (long)by.TotalMilliseconds);
}
