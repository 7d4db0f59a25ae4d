using Quiver.Core.Security;
using Quiver.Server.Security;
using Quiver.Server.Tests.Dashboard;

namespace Quiver.Server.Tests.Security;

/// <summary>Token buckets and in-flight caps per principal and tenant, on a manual clock.</summary>
public sealed class RequestLimiterTests
{
    private readonly ManualClock _clock = new();

    private static Principal Caller(string name, string? tenant = null) => new(name, tenant, new HashSet<Role> { Role.Predictor }, "api-key");

    private RequestLimiter Limiter(RequestLimits limits) => new(limits, _clock);

    [Fact]
    public void Rate_AllowsTheBurst_ThenRefusesUntilTheBucketRefills()
    {
        RequestLimiter limiter = Limiter(new RequestLimits { Principal = new LimitSettings(RequestsPerSecond: 2, Burst: 3) });
        Principal alice = Caller("alice");

        for (int i = 0; i < 3; i++)
        {
            Assert.Null(limiter.Acquire(alice).Refusal);
        }

        LimitRefusal refusal = limiter.Acquire(alice).Refusal!;
        Assert.Equal("principal_rate_limit", refusal.Reason);
        Assert.Equal("principal 'alice' is over its rate limit of 2 requests/s with a burst of 3; retry after 1 s", refusal.Message);
        Assert.Equal(1, refusal.RetryAfterSeconds);

        _clock.Advance(TimeSpan.FromMilliseconds(500)); // one token at 2/s
        Assert.Null(limiter.Acquire(alice).Refusal);
        Assert.NotNull(limiter.Acquire(alice).Refusal);
    }

    [Fact]
    public void Rate_RetryAfter_IsTheTimeUntilTheNextToken_RoundedUp()
    {
        RequestLimiter limiter = Limiter(new RequestLimits { Principal = new LimitSettings(RequestsPerSecond: 0.1, Burst: 1) });
        Assert.Null(limiter.Acquire(Caller("slow")).Refusal);
        _clock.Advance(TimeSpan.FromSeconds(2.5));

        Assert.Equal(8, limiter.Acquire(Caller("slow")).Refusal!.RetryAfterSeconds); // 7.5 s left at 0.1/s
    }

    [Fact]
    public void Principals_HaveSeparateBuckets()
    {
        RequestLimiter limiter = Limiter(new RequestLimits { Principal = new LimitSettings(RequestsPerSecond: 1, Burst: 1) });

        Assert.Null(limiter.Acquire(Caller("alice")).Refusal);
        Assert.Null(limiter.Acquire(Caller("bob")).Refusal);
        Assert.NotNull(limiter.Acquire(Caller("alice")).Refusal);
    }

    [Fact]
    public void Tenant_LimitsAllItsPrincipalsTogether_AndARefusalSpendsNoPrincipalToken()
    {
        RequestLimiter limiter = Limiter(new RequestLimits
        {
            Principal = new LimitSettings(RequestsPerSecond: 0.001, Burst: 2), // principals hardly refill here
            Tenant = new LimitSettings(RequestsPerSecond: 1, Burst: 2),
        });

        Assert.Null(limiter.Acquire(Caller("a1", "acme")).Refusal);
        Assert.Null(limiter.Acquire(Caller("a2", "acme")).Refusal);
        LimitRefusal refusal = limiter.Acquire(Caller("a1", "acme")).Refusal!;
        Assert.Equal("tenant_rate_limit", refusal.Reason);
        Assert.StartsWith("tenant 'acme' is over its rate limit", refusal.Message);
        Assert.Null(limiter.Acquire(Caller("g1", "globex")).Refusal); // another tenant is untouched

        // a1's own bucket got back the token the tenant refusal took: once the tenant refills, a1 has one more request.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(limiter.Acquire(Caller("a1", "acme")).Refusal);
        Assert.Equal("principal_rate_limit", limiter.Acquire(Caller("a1", "acme")).Refusal?.Reason);
    }

    [Fact]
    public void Overrides_ReplaceOnlyTheFieldsTheyGive()
    {
        var limits = new RequestLimits
        {
            Principal = new LimitSettings(RequestsPerSecond: 1, Burst: 1, MaxConcurrent: 4),
            Principals = new Dictionary<string, LimitSettings> { ["loader"] = new(Burst: 5) },
        };

        Assert.Equal(new LimitSettings(1, 5, 4), limits.ForPrincipal("loader"));
        Assert.Equal(new LimitSettings(1, 1, 4), limits.ForPrincipal("someone"));
        RequestLimiter limiter = Limiter(limits);
        for (int i = 0; i < 5; i++)
        {
            LimitDecision decision = limiter.Acquire(Caller("loader"));
            Assert.Null(decision.Refusal);
            decision.Lease!.Dispose();
        }

        Assert.Equal("principal_rate_limit", limiter.Acquire(Caller("loader")).Refusal?.Reason);
    }

    [Fact]
    public void Concurrency_RefusesBeyondTheCap_UntilALeaseIsDisposed()
    {
        RequestLimiter limiter = Limiter(new RequestLimits { Tenant = new LimitSettings(MaxConcurrent: 2) });
        IDisposable first = limiter.Acquire(Caller("a1", "acme")).Lease!;
        IDisposable second = limiter.Acquire(Caller("a2", "acme")).Lease!;

        LimitRefusal refusal = limiter.Acquire(Caller("a3", "acme")).Refusal!;
        Assert.Equal("tenant_concurrency_limit", refusal.Reason);
        Assert.Equal("tenant 'acme' is over its concurrency limit of 2 requests in flight at once; retry after 1 s", refusal.Message);
        Assert.Null(limiter.Acquire(Caller("nobody")).Refusal); // no tenant, no tenant limit

        first.Dispose();
        first.Dispose(); // a second dispose frees nothing more
        using IDisposable third = limiter.Acquire(Caller("a3", "acme")).Lease!;
        Assert.NotNull(limiter.Acquire(Caller("a4", "acme")).Refusal);
        second.Dispose();
    }

    [Fact]
    public void IdleCallers_AreDroppedAtTheNextSweep_SoMemoryFollowsTheActiveCallers()
    {
        RequestLimiter limiter = Limiter(new RequestLimits
        {
            Principal = new LimitSettings(RequestsPerSecond: 10, Burst: 10, MaxConcurrent: 4),
            Tenant = new LimitSettings(RequestsPerSecond: 100, Burst: 100),
        });
        for (int i = 0; i < 1000; i++)
        {
            limiter.Acquire(Caller("caller-" + i, "tenant-" + (i % 10))).Lease!.Dispose();
        }

        Assert.Equal(1010, limiter.TrackedCount);

        _clock.Advance(RequestLimiter.IdleSweepInterval - TimeSpan.FromSeconds(1));
        limiter.Acquire(Caller("caller-0", "tenant-0")).Lease!.Dispose();
        Assert.Equal(1010, limiter.TrackedCount); // not due yet

        _clock.Advance(TimeSpan.FromSeconds(1));
        limiter.Acquire(Caller("newcomer")).Lease!.Dispose();
        Assert.Equal(1, limiter.TrackedCount); // every bucket had refilled: only the newcomer, added after the sweep

        // A dropped caller starts again as a new one would: a full burst, then refused.
        for (int i = 0; i < 10; i++)
        {
            limiter.Acquire(Caller("caller-7", "tenant-7")).Lease!.Dispose();
        }

        Assert.Equal("principal_rate_limit", limiter.Acquire(Caller("caller-7", "tenant-7")).Refusal?.Reason);
    }

    [Fact]
    public void Sweep_KeepsACallerWithARequestInFlight_OrABucketNotYetFull_WithTheirLimitsIntact()
    {
        RequestLimiter limiter = Limiter(new RequestLimits
        {
            Principal = new LimitSettings(RequestsPerSecond: 100, Burst: 1, MaxConcurrent: 1),
            Principals = new Dictionary<string, LimitSettings> { ["spent"] = new(RequestsPerSecond: 0.01) }, // 100 s to refill
            Tenant = new LimitSettings(MaxConcurrent: 10),
        });
        IDisposable busy = limiter.Acquire(Caller("busy", "acme")).Lease!;
        limiter.Acquire(Caller("spent")).Lease!.Dispose();
        limiter.Acquire(Caller("idle")).Lease!.Dispose();

        _clock.Advance(RequestLimiter.IdleSweepInterval);
        limiter.Acquire(Caller("trigger")).Lease!.Dispose();

        // busy and its tenant hold a request in flight, spent's bucket has 0.6 of 1 token: kept. idle is gone.
        Assert.Equal(4, limiter.TrackedCount);
        Assert.Equal("principal_concurrency_limit", limiter.Acquire(Caller("busy", "acme")).Refusal?.Reason);
        Assert.Equal("principal_rate_limit", limiter.Acquire(Caller("spent")).Refusal?.Reason);

        busy.Dispose();
        _clock.Advance(RequestLimiter.IdleSweepInterval);
        limiter.Acquire(Caller("trigger")).Lease!.Dispose();
        Assert.Equal(1, limiter.TrackedCount); // spent has refilled by now, busy and acme are idle
    }

    [Fact]
    public async Task Sweeps_RacingRequests_NeverLetMoreThanTheCapInFlight()
    {
        // A sweep that dropped an allowance a request was entering would let a second allowance for the same caller
        // admit beyond the cap; requests pin their allowance, so the cap holds while the clock makes every call sweep.
        RequestLimiter limiter = Limiter(new RequestLimits { Principal = new LimitSettings(MaxConcurrent: 2), Tenant = new LimitSettings(MaxConcurrent: 3) });
        int inFlight = 0;
        int most = 0;
        using var done = new CancellationTokenSource();
        Task[] callers = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                LimitDecision decision = limiter.Acquire(Caller("alice", "acme"));
                if (decision.Lease is { } lease)
                {
                    int now = Interlocked.Increment(ref inFlight);
                    InterlockedMax(ref most, now);
                    Interlocked.Decrement(ref inFlight);
                    lease.Dispose();
                }
            }
        }))];
        Task clock = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                _clock.Advance(RequestLimiter.IdleSweepInterval);
                Thread.Yield();
            }
        });

        await Task.WhenAll(callers);
        await done.CancelAsync();
        await clock;

        Assert.InRange(most, 1, 2);
        _clock.Advance(RequestLimiter.IdleSweepInterval);
        limiter.Acquire(Caller("last")).Lease!.Dispose();
        Assert.Equal(1, limiter.TrackedCount); // alice and acme were released at the end
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        do
        {
            seen = Volatile.Read(ref target);
        }
        while (value > seen && Interlocked.CompareExchange(ref target, value, seen) != seen);
    }

    [Fact]
    public void Parse_ReadsEverySetting()
    {
        RequestLimits limits = RequestLimits.Parse("""
            {"principal": {"requests_per_second": 50, "burst": 100, "max_concurrent": 8},
             "tenant": {"requests_per_second": 200},
             "tenants": {"acme": {"max_concurrent": 64}},
             "principals": {"loader": {"requests_per_second": 1000, "burst": 2000}}}
            """);

        Assert.Equal(new LimitSettings(50, 100, 8), limits.Principal);
        Assert.Equal(200, limits.Tenant.BucketSize); // one second's worth when no burst is given
        Assert.Equal(new LimitSettings(200, null, 64), limits.ForTenant("acme"));
        Assert.Equal(new LimitSettings(1000, 2000, 8), limits.ForPrincipal("loader"));
        Assert.True(limits.Any);
        Assert.False(RequestLimits.Parse("{}").Any);
    }

    [Fact]
    public void Parse_ReportsEveryProblemAtOnce()
    {
        var e = Assert.Throws<FormatException>(() => RequestLimits.Parse("""
            {"principal": {"requests_per_second": -1, "burst": 0.5, "max_concurent": 2},
             "tenant": {"burst": 10, "max_concurrent": 1.5}, "tenants": [], "global": {}}
            """));

        Assert.Contains("'principal.requests_per_second' must be a positive number, got -1", e.Message);
        Assert.Contains("'principal.burst' must be a positive number of at least 1, got 0.5", e.Message);
        Assert.Contains("unknown setting 'principal.max_concurent'", e.Message);
        Assert.Contains("'tenant.burst' needs 'tenant.requests_per_second'", e.Message);
        Assert.Contains("'tenant.max_concurrent' must be a positive number (an integer), got 1.5", e.Message);
        Assert.Contains("'tenants' must map names to limits", e.Message);
        Assert.Contains("unknown setting 'global'", e.Message);
    }
}
