using System.Collections.Concurrent;
using System.Globalization;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Applies <see cref="RequestLimits"/> to callers: each request takes a slot (in-flight cap) and a token (rate) from
/// its principal and from its principal's tenant, or is refused saying which limit it hit. Protocol-free: the
/// middleware maps a refusal to 429 or RESOURCE_EXHAUSTED.
/// </summary>
public sealed class RequestLimiter(RequestLimits limits, TimeProvider time)
{
    // One entry per principal and tenant seen: authenticated identities, so bounded by the keys and tenants configured.
    private readonly ConcurrentDictionary<string, Allowance> _allowances = new(StringComparer.Ordinal);

    public RequestLimits Limits { get; } = limits;

    /// <summary>Admits a request of <paramref name="principal"/>; dispose the lease when it finishes.</summary>
    public LimitDecision Acquire(Principal principal)
    {
        Allowance own = _allowances.GetOrAdd("principal:" + principal.Name, _ => new Allowance(
            LimitScope.Principal, principal.Name, Limits.ForPrincipal(principal.Name), time));
        Allowance? tenant = principal.Tenant is { } name
            ? _allowances.GetOrAdd("tenant:" + name, _ => new Allowance(LimitScope.Tenant, name, Limits.ForTenant(name), time))
            : null;

        // Slots first, so a refused request does not spend tokens; every step undone when a later one refuses.
        if (own.TryEnter() is { } ownFull)
        {
            return ownFull;
        }

        if (tenant?.TryEnter() is { } tenantFull)
        {
            own.Leave();
            return tenantFull;
        }

        if (own.TryTakeToken() is { } ownRate)
        {
            own.Leave();
            tenant?.Leave();
            return ownRate;
        }

        if (tenant?.TryTakeToken() is { } tenantRate)
        {
            own.ReturnToken();
            own.Leave();
            tenant.Leave();
            return tenantRate;
        }

        return new LimitDecision(new Lease(own, tenant), null);
    }

    /// <summary>Ends an admitted request: frees its in-flight slots.</summary>
    private sealed class Lease(Allowance own, Allowance? tenant) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                own.Leave();
                tenant?.Leave();
            }
        }
    }

    /// <summary>One principal's or tenant's bucket and in-flight count.</summary>
    private sealed class Allowance(LimitScope scope, string name, LimitSettings settings, TimeProvider time)
    {
        private readonly TokenBucket? _bucket = settings.RequestsPerSecond is { } rate ? new TokenBucket(rate, settings.BucketSize, time) : null;
        private int _inFlight;

        public LimitDecision? TryEnter()
        {
            if (settings.MaxConcurrent is not { } max)
            {
                return null;
            }

            if (Interlocked.Increment(ref _inFlight) <= max)
            {
                return null;
            }

            Interlocked.Decrement(ref _inFlight);
            // A slot frees when any request in flight ends; a second is a fair guess for inference calls.
            return Refuse(LimitKind.Concurrency, TimeSpan.FromSeconds(1),
                $"{max} requests in flight at once");
        }

        public void Leave()
        {
            if (settings.MaxConcurrent is not null)
            {
                Interlocked.Decrement(ref _inFlight);
            }
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
