using System.Collections.Concurrent;

namespace Quiver.Core.Routing;

/// <summary>
/// The endpoints this server routes, replaced at once when the registry changes, with how many requests each variant
/// has been given since this server started.
/// </summary>
public sealed class EndpointTable(TimeProvider? time = null)
{
    private volatile IReadOnlyDictionary<string, ServingEndpoint> _endpoints = new Dictionary<string, ServingEndpoint>();
    private readonly ConcurrentDictionary<(string Endpoint, string Variant), long> _routed = new();
    private readonly ConcurrentDictionary<(string Endpoint, string Variant), VariantWindow> _windows = new();

    /// <summary>Every endpoint by name.</summary>
    public IReadOnlyDictionary<string, ServingEndpoint> Endpoints => _endpoints;

    /// <summary>The endpoints' shadow runs and how they compare.</summary>
    public ShadowTraffic Shadows { get; } = new();

    /// <summary>The clock experiment requests are remembered by (the system's; tests pass a fake to expire them).</summary>
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    /// <summary>The outcomes of the endpoints' experiments.</summary>
    public ExperimentLedger Experiments { get; } = new();

    /// <summary>Publishes a new set of endpoints.</summary>
    public void Replace(IReadOnlyDictionary<string, ServingEndpoint> endpoints) => _endpoints = endpoints;

    /// <summary>The endpoint of that name, if there is one.</summary>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ServingEndpoint? endpoint) =>
        _endpoints.TryGetValue(name, out endpoint);

    /// <summary>Picks a variant and counts it: by Thompson sampling for a bandit's unkeyed requests, else by the split.</summary>
    public Variant Route(string endpoint, ServingEndpoint definition, string? routingKey)
    {
        Variant variant = definition.Experiment is { Bandit: true } && routingKey is null
            ? Thompson(endpoint, definition.Split)
            : definition.Split.Pick(routingKey);
        _routed.AddOrUpdate((endpoint, variant.Name), 1, (_, count) => count + 1);
        return variant;
    }

    /// <summary>Counts a routed request's outcome in its variant's current window (a canary step's evidence).</summary>
    public void RecordOutcome(string endpoint, string variant, bool success, TimeSpan latency) =>
        _windows.GetOrAdd((endpoint, variant), _ => new VariantWindow()).Add(success, latency);

    /// <summary>A variant's window since it was last taken, and a fresh one started.</summary>
    public VariantWindow.Snapshot TakeWindow(string endpoint, string variant) =>
        _windows.TryRemove((endpoint, variant), out VariantWindow? window) ? window.Take() : new VariantWindow().Take();

    /// <summary>A variant's window so far, left running.</summary>
    public VariantWindow.Snapshot PeekWindow(string endpoint, string variant) =>
        _windows.TryGetValue((endpoint, variant), out VariantWindow? window) ? window.Take() : new VariantWindow().Take();

    // Each variant's conversion rate is drawn from its Beta posterior (uniform prior); the highest draw serves.
    private Variant Thompson(string endpoint, VariantSplit split)
    {
        Variant best = split.Variants[0];
        double bestDraw = -1;
        foreach (Variant variant in split.Variants.Where(v => v.Weight > 0))
        {
            Statistics.SampleSummary outcomes = Experiments.Summary(endpoint, variant.Name).Outcomes;
            double conversions = Math.Round(outcomes.Mean * outcomes.Count);
            double draw = Statistics.BetaSampler.Next(Random.Shared, 1 + conversions, 1 + outcomes.Count - conversions);
            if (draw > bestDraw)
            {
                (best, bestDraw) = (variant, draw);
            }
        }

        return best;
    }

    /// <summary>Requests routed to a variant of an endpoint by this server.</summary>
    public long RoutedTo(string endpoint, string variant) => _routed.GetValueOrDefault((endpoint, variant));

    /// <summary>Every (endpoint, variant) this server has routed to, with its count.</summary>
    public IEnumerable<KeyValuePair<(string Endpoint, string Variant), long>> Routed => _routed;
}
