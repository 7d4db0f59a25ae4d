using System.Collections.Concurrent;
using System.Globalization;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Applies <see cref="RequestLimits"/> to callers: each request takes a slot (in-flight cap) and a token (rate) from
/// its principal and from its principal's tenant, or is refused saying which limit it hit. Protocol-free: the
/// middleware maps a refusal to 429 or RESOURCE_EXHAUSTED. A caller's state is dropped once it is idle (no request in
/// flight, bucket full), so memory follows the callers active recently, not every caller ever seen.
/// </summary>
public sealed class RequestLimiter(RequestLimits limits, TimeProvider time)
{
    /// <summary>
    /// How often idle callers are dropped. Dropping one loses nothing (it would start again full and with nothing in
    /// flight), so this only bounds how long an idle caller's few hundred bytes stay; a sweep walks the table once.
    /// </summary>
    public static readonly TimeSpan IdleSweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<(LimitScope Scope, string Name), Allowance> _allowances = new();
    private long _lastSweep = time.GetTimestamp();

    public RequestLimits Limits { get; } = limits;

    /// <summary>Principals and tenants whose state is held now (for tests).</summary>
    internal int TrackedCount => _allowances.Count;

    /// <summary>Admits a request of <paramref name="principal"/>; dispose the lease when it finishes.</summary>
    public LimitDecision Acquire(Principal principal)
    {
        SweepWhenDue();

        // Slots first, so a refused request does not spend tokens; every step undone when a later one refuses.
        Allowance own = Pin(LimitScope.Principal, principal.Name, out int ownInFlight);
        if (own.OverConcurrency(ownInFlight) is { } ownFull)
        {
            own.Unpin();
            return ownFull;
        }

        int tenantInFlight = 0;
        Allowance? tenant = principal.Tenant is { } name ? Pin(LimitScope.Tenant, name, out tenantInFlight) : null;
        if (tenant?.OverConcurrency(tenantInFlight) is { } tenantFull)
        {
            own.Unpin();
            tenant.Unpin();
            return tenantFull;
        }

        if (own.TryTakeToken() is { } ownRate)
        {
            own.Unpin();
            tenant?.Unpin();
            return ownRate;
        }

        if (tenant?.TryTakeToken() is { } tenantRate)
        {
            own.ReturnToken();
            own.Unpin();
            tenant.Unpin();
            return tenantRate;
        }

        return new LimitDecision(new Lease(own, tenant), null);
    }

    // The caller's allowance, pinned so the sweep cannot drop it while this request holds it.
    private Allowance Pin(LimitScope scope, string name, out int inFlight)
    {
        var spin = new SpinWait();
        while (true)
        {
            Allowance allowance = _allowances.GetOrAdd((scope, name), static (key, limiter) => limiter.Create(key.Scope, key.Name), this);
            if (allowance.TryPin(out inFlight))
            {
                return allowance;
            }

            // The sweep is taking this one out of the table right now; the next look-up finds it gone (or kept).
            spin.SpinOnce();
        }
    }

    private Allowance Create(LimitScope scope, string name) =>
        new(scope, name, scope == LimitScope.Principal ? Limits.ForPrincipal(name) : Limits.ForTenant(name), time);

    // Run by the one request that finds a sweep due: a walk of the table, once per interval.
    private void SweepWhenDue()
    {
        long last = Volatile.Read(ref _lastSweep);
        long now = time.GetTimestamp();
        if (time.GetElapsedTime(last, now) < IdleSweepInterval || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }

        foreach (KeyValuePair<(LimitScope, string), Allowance> entry in _allowances)
        {
            if (entry.Value.TryRetire())
            {
                _allowances.TryRemove(entry);
            }
        }
    }

    /// <summary>Ends an admitted request: frees its in-flight slots.</summary>
    private sealed class Lease(Allowance own, Allowance? tenant) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                own.Unpin();
                tenant?.Unpin();
            }
        }
    }

    /// <summary>One principal's or tenant's bucket and in-flight count.</summary>
    private sealed class Allowance(LimitScope scope, string name, LimitSettings settings, TimeProvider time)
    {
        // Retired: taken out of the table by the sweep; a request that still finds it looks again.
        private const int Retired = int.MinValue;

        private readonly TokenBucket? _bucket = settings.RequestsPerSecond is { } rate ? new TokenBucket(rate, settings.BucketSize, time) : null;

        // Requests admitted or being admitted: the in-flight count, and what keeps the sweep away.
        private int _pins;

        /// <summary>Counts one more request in; false when retired. <paramref name="inFlight"/> includes this one.</summary>
        public bool TryPin(out int inFlight)
        {
            int pins = Volatile.Read(ref _pins);
            while (pins != Retired)
            {
                int seen = Interlocked.CompareExchange(ref _pins, pins + 1, pins);
                if (seen == pins)
                {
                    inFlight = pins + 1;
                    return true;
                }

                pins = seen;
            }

            inFlight = 0;
            return false;
        }

        public void Unpin() => Interlocked.Decrement(ref _pins);

        /// <summary>Retires the allowance if nothing would be lost: no request holds it and its bucket is full.</summary>
        public bool TryRetire()
        {
            if (Interlocked.CompareExchange(ref _pins, Retired, 0) != 0)
            {
                return false;
            }

            // Checked once retired, so no request can take a token between the check and the removal.
            if (_bucket is null || _bucket.IsFull)
            {
                return true;
            }

            Volatile.Write(ref _pins, 0);
            return false;
        }

        /// <summary>A refusal when the request that made <paramref name="inFlight"/> requests in flight is over the cap.</summary>
        public LimitDecision? OverConcurrency(int inFlight)
        {
            // The count this request's own pin made, not a fresh read: of two racing for the last slot, one gets it.
            if (settings.MaxConcurrent is not { } max || inFlight <= max)
            {
                return null;
            }

            // A slot frees when any request in flight ends; a second is a fair guess for inference calls.
            return Refuse(LimitKind.Concurrency, TimeSpan.FromSeconds(1), $"{max} requests in flight at once");
        }

        public LimitDecision? TryTakeToken()
        {
            if (_bucket is null || _bucket.TryTake(out TimeSpan retryAfter))
            {
                return null;
            }

            return Refuse(LimitKind.Rate, retryAfter, string.Create(CultureInfo.InvariantCulture,
                $"{settings.RequestsPerSecond:0.###} requests/s with a burst of {settings.BucketSize:0.###}"));
        }

        public void ReturnToken() => _bucket?.Return();

        private LimitDecision Refuse(LimitKind kind, TimeSpan retryAfter, string limit)
        {
            string scopeName = scope == LimitScope.Principal ? "principal" : "tenant";
            string kindName = kind == LimitKind.Rate ? "rate" : "concurrency";
            int seconds = (int)Math.Max(1, Math.Ceiling(retryAfter.TotalSeconds));
            return new LimitDecision(null, new LimitRefusal(
                $"{scopeName}_{kindName}_limit",
                $"{scopeName} '{name}' is over its {kindName} limit of {limit}; retry after {seconds} s",
                seconds));
        }
    }

    private enum LimitScope { Principal, Tenant }

    private enum LimitKind { Rate, Concurrency }
}

/// <summary>The outcome of <see cref="RequestLimiter.Acquire"/>: a lease to dispose, or a refusal.</summary>
public readonly record struct LimitDecision(IDisposable? Lease, LimitRefusal? Refusal);

/// <summary>
/// A refused request: <see cref="Reason"/> is the metric label (<c>principal_rate_limit</c>, <c>tenant_concurrency_limit</c>,
/// ...), <see cref="Message"/> says which limit for the caller, <see cref="RetryAfterSeconds"/> when to try again.
/// </summary>
public sealed record LimitRefusal(string Reason, string Message, int RetryAfterSeconds);
