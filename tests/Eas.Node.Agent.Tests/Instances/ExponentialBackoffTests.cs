using Eas.Node.Agent.Instances;
using Microsoft.Extensions.Time.Testing;

namespace Eas.Node.Agent.Tests.Instances;

public sealed class ExponentialBackoffTests
{
    [Fact]
    public void NextDelay_Restarts_DoublesFromOneSecondUpToFiveMinutes()
    {
        var time = new FakeTimeProvider();
        var backoff = ExponentialBackoff.ForRestarts(time);

        var delays = Enumerable.Range(0, 12).Select(_ =>
        {
            backoff.Started();
            time.Advance(TimeSpan.FromSeconds(5));
            return backoff.NextDelay().TotalSeconds;
        }).ToList();

        delays.Should().Equal(1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300);
    }

    [Fact]
    public void NextDelay_AfterTenMinutesRunning_StartsOver()
    {
        var time = new FakeTimeProvider();
        var backoff = ExponentialBackoff.ForRestarts(time);
        for (var i = 0; i < 5; i++)
        {
            backoff.Started();
            backoff.NextDelay();
        }

        backoff.Started();
        time.Advance(TimeSpan.FromMinutes(10));

        backoff.NextDelay().Should().Be(TimeSpan.FromSeconds(1));
        backoff.Started();
        backoff.NextDelay().Should().Be(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void NextDelay_NineMinutesRunning_KeepsGrowing()
    {
        var time = new FakeTimeProvider();
        var backoff = ExponentialBackoff.ForRestarts(time);
        backoff.NextDelay();
        backoff.Started();
        time.Advance(TimeSpan.FromMinutes(9));

        backoff.NextDelay().Should().Be(TimeSpan.FromSeconds(2));
    }

    [Fact]
    public void NextDelay_Reconnects_CapAtFourSeconds_WellInsideTheNodeGrace()
    {
        var backoff = ExponentialBackoff.ForReconnects(new FakeTimeProvider());

        var delays = Enumerable.Range(0, 8).Select(_ => backoff.NextDelay().TotalSeconds).ToList();

        delays.Should().Equal(0.25, 0.5, 1, 2, 4, 4, 4, 4);
    }

    [Fact]
    public async Task NextDelay_WaitedWithFakeClock_ElapsesOnlyWhenTimeAdvances()
    {
        var time = new FakeTimeProvider();
        var backoff = ExponentialBackoff.ForRestarts(time);
        backoff.NextDelay();
        var delay = Task.Delay(backoff.NextDelay(), time);

        time.Advance(TimeSpan.FromSeconds(1.9));
        delay.IsCompleted.Should().BeFalse();
        time.Advance(TimeSpan.FromSeconds(0.1));

        await delay.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Theory]
    [InlineData(1, "exited with code 1")]
    [InlineData(0, "exited with code 0")]
    [InlineData(137, "killed by signal 9")]
    [InlineData(143, "killed by signal 15")]
    public void ExitStatus_Describe_ReadsLikeAReason(int code, string expected)
    {
        new ExitStatus(code).Describe().Should().Be(expected);
    }
}
