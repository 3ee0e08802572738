using System.Diagnostics;
using Eas.Node.Gateway.Routing;

namespace Eas.Node.Gateway.Tests.Routing;

public sealed class RateLimiterTests
{
    [Fact]
    public void TryAcquire_TwentyPerSecondOfferedSixty_AdmitsTwentyPerSecondPlusBurst()
    {
        var start = Stopwatch.GetTimestamp();
        var limiter = new RateLimiter(20);
        limiter.Burst.Should().Be(5);

        var admittedPerSecond = new int[5];
        for (var i = 0; i < 5 * 60; i++)
        {
            var now = start + (i * Stopwatch.Frequency / 60);
            if (limiter.TryAcquire(now))
            {
                admittedPerSecond[i / 60]++;
            }
        }

        admittedPerSecond[0].Should().BeInRange(18, 20 + limiter.Burst, "the first second may spend the burst");
        admittedPerSecond.Skip(1).Should().OnlyContain(n => n >= 18 && n <= 22);
        admittedPerSecond.Sum().Should().BeInRange(100, 100 + limiter.Burst);
    }

    [Fact]
    public void TryAcquire_AfterAQuietSpell_AdmitsTheBurstAtOnce()
    {
        var limiter = new RateLimiter(100);
        var later = Stopwatch.GetTimestamp() + (10 * Stopwatch.Frequency);

        var admitted = Enumerable.Range(0, 50).Count(_ => limiter.TryAcquire(later));

        admitted.Should().Be(25, "the burst is a quarter second's worth");
    }

    [Fact]
    public void For_SameLimit_KeepsTheLimiter_OtherLimitOrOffReplacesIt()
    {
        var limiter = new RateLimiter(5);

        RateLimiter.For(5, limiter).Should().BeSameAs(limiter);
        RateLimiter.For(6, limiter).Should().NotBeSameAs(limiter).And.Match<RateLimiter>(l => l.Limit == 6);
        RateLimiter.For(0, limiter).Should().BeNull();
        new RateLimiter(1).Burst.Should().Be(1);
    }
}
