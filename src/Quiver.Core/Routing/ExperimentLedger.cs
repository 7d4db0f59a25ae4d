using Quiver.Core.Routing.Statistics;

namespace Quiver.Core.Routing;

/// <summary>What became of one piece of feedback.</summary>
public enum FeedbackOutcome
{
    Recorded,

    /// <summary>No request with that id was routed by an experiment here, or it is older than the retention.</summary>
    UnknownRequest,

    /// <summary>That request already has its outcome; the first one counts.</summary>
    Duplicate,
}

/// <summary>
/// Which variant each experiment request went to, and the outcomes fed back for them: counts, sums and squares per
/// variant, and a sequential test per treatment against the control, updated at every outcome (every outcome is a
/// look, and the always-valid p-value allows that) once each arm has
/// <see cref="SequentialTest.MinimumPerArm"/> outcomes. Requests are remembered for <see cref="Retention"/>, up to
/// <see cref="MaxRequests"/>; older feedback is refused as unknown.
/// </summary>
public sealed class ExperimentLedger
{
    public const int MaxRequests = 1_000_000;

    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Assignment> _requests = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, DateTimeOffset At)> _order = new();
    private readonly Dictionary<(string Endpoint, string Variant), Tally> _tallies = [];
    private readonly Dictionary<(string Endpoint, string Variant), SequentialTest> _sequential = [];

    /// <summary>Remembers which variant served a request of an experiment.</summary>
    public void Assign(string requestId, string endpoint, string variant, DateTimeOffset now)
    {
        lock (_lock)
        {
            Expire(now);
            if (_requests.TryAdd(requestId, new Assignment(endpoint, variant, null)))
            {
                _order.Enqueue((requestId, now));
                TallyOf(endpoint, variant).Assigned++;
            }
        }
    }

    /// <summary>Records a request's outcome (1/0 for conversions) and updates the endpoint's sequential tests.</summary>
    public FeedbackOutcome Record(string requestId, double outcome, ServingEndpoint endpoint, string endpointName, DateTimeOffset now)
    {
        lock (_lock)
        {
            Expire(now);
            if (!_requests.TryGetValue(requestId, out Assignment? assignment) || assignment.Endpoint != endpointName)
            {
                return FeedbackOutcome.UnknownRequest;
            }

            if (assignment.Outcome is not null)
            {
                return FeedbackOutcome.Duplicate;
            }

            _requests[requestId] = assignment with { Outcome = outcome };
            TallyOf(endpointName, assignment.Variant).Add(outcome);
            ObserveSequential(endpointName, endpoint);
            return FeedbackOutcome.Recorded;
        }
    }

    /// <summary>The endpoint a request id was routed by, if it is remembered (not yet past the retention at <paramref name="now"/>).</summary>
    public string? EndpointOf(string requestId, DateTimeOffset now)
    {
        lock (_lock)
        {
            Expire(now);
            return _requests.TryGetValue(requestId, out Assignment? assignment) ? assignment.Endpoint : null;
        }
    }

    /// <summary>Forgets an endpoint's outcomes and tests, as when its experiment is redefined.</summary>
    public void Reset(string endpoint)
    {
        lock (_lock)
        {
            foreach (var key in _tallies.Keys.Where(k => k.Endpoint == endpoint).ToArray())
            {
                _tallies.Remove(key);
                _sequential.Remove(key);
            }
        }
    }

    /// <summary>Assignments, and the outcomes' summary, of one variant.</summary>
    public (long Assigned, SampleSummary Outcomes) Summary(string endpoint, string variant)
    {
        lock (_lock)
        {
            Tally tally = _tallies.GetValueOrDefault((endpoint, variant)) ?? new Tally();
            return (tally.Assigned, tally.Summary());
        }
    }

    /// <summary>The always-valid p-value of a treatment against the control so far (1 before any look).</summary>
    public double SequentialP(string endpoint, string variant)
    {
        lock (_lock)
        {
            return _sequential.TryGetValue((endpoint, variant), out SequentialTest? test) ? test.PValue : 1;
        }
    }

    private void ObserveSequential(string endpointName, ServingEndpoint endpoint)
    {
        string control = endpoint.Split.Variants[0].Name;
        SampleSummary controlOutcomes = TallyOf(endpointName, control).Summary();
        foreach (Variant treatment in endpoint.Split.Variants.Skip(1))
        {
            var key = (endpointName, treatment.Name);
            if (!_sequential.TryGetValue(key, out SequentialTest? test))
            {
                _sequential[key] = test = new SequentialTest(endpoint.Experiment!.EffectiveMixtureVariance, endpoint.Experiment.Metric == ExperimentSpec.Binary);
            }

            test.Observe(controlOutcomes, TallyOf(endpointName, treatment.Name).Summary());
        }
    }

    private Tally TallyOf(string endpoint, string variant)
    {
        if (!_tallies.TryGetValue((endpoint, variant), out Tally? tally))
        {
            _tallies[(endpoint, variant)] = tally = new Tally();
        }

        return tally;
    }

    private void Expire(DateTimeOffset now)
    {
        while (_order.TryPeek(out var oldest) && (now - oldest.At > Retention || _order.Count >= MaxRequests))
        {
            _order.Dequeue();
            _requests.Remove(oldest.Id);
        }
    }

    private sealed record Assignment(string Endpoint, string Variant, double? Outcome);

    // Welford's running mean and variance: stable however many outcomes arrive.
    private sealed class Tally
    {
        private long _count;
        private double _mean;
        private double _squares;

        public long Assigned { get; set; }

        public void Add(double value)
        {
            _count++;
            double delta = value - _mean;
            _mean += delta / _count;
            _squares += delta * (value - _mean);
        }

        public SampleSummary Summary() => new(_count, _mean, _count > 1 ? _squares / (_count - 1) : 0);
    }
}
