using Quiver.Core.Routing;

namespace Quiver.Server.Dashboard;

/// <summary>How traffic is routed now: endpoints (splits, experiments, shadows) and canary rollouts.</summary>
internal sealed record TrafficReading(IReadOnlyList<EndpointReading> Endpoints, IReadOnlyList<RolloutReading> Rollouts, string? RolloutsError)
{
    public static readonly TrafficReading None = new([], [], null);

    /// <summary>
    /// Reads the endpoint table (in memory) and the rollouts (in the registry). A registry that cannot be read is
    /// reported in <see cref="RolloutsError"/> rather than failing the dashboard: the rest of the page still matters.
    /// </summary>
    public static async Task<TrafficReading> ReadAsync(EndpointTable table,
        Func<CancellationToken, Task<IReadOnlyDictionary<string, Rollout>>> readRollouts, CancellationToken cancellationToken)
    {
        var endpoints = new List<EndpointReading>();
        foreach (var (name, endpoint) in table.Endpoints.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            endpoints.Add(new EndpointReading(
                name,
                endpoint.Split.Variants.Select(v => new VariantReading(v, table.RoutedTo(name, v.Name))).ToArray(),
                endpoint.Experiment is null ? null : ExperimentReadout.Compute(name, endpoint, table.Experiments),
                endpoint.Shadow,
                endpoint.Shadow is null ? null : table.Shadows.Figures(name)));
        }

        IReadOnlyDictionary<string, Rollout> rollouts;
        try
        {
            rollouts = await readRollouts(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new TrafficReading(endpoints, [], $"rollouts cannot be read: {e.Message}");
        }

        RolloutReading[] rolloutReadings = rollouts.Values
            .OrderBy(r => r.Model, StringComparer.Ordinal)
            .Select(r => new RolloutReading(r,
                r.Routes ? table.PeekWindow(r.Model, "baseline") : null,
                r.Routes ? table.PeekWindow(r.Model, "candidate") : null))
            .ToArray();
        // A rollout routes through an endpoint named after its model; its card already shows that split.
        return new TrafficReading(endpoints.Where(e => !(rollouts.TryGetValue(e.Name, out Rollout? r) && r.Routes)).ToArray(), rolloutReadings, null);
    }

    /// <summary>The endpoints whose name and every target model <paramref name="visible"/> accepts, and the rollouts of such models.</summary>
    public TrafficReading Only(Func<string, bool> visible) => this with
    {
        Endpoints = Endpoints.Where(e => visible(e.Name) && e.Variants.All(v => visible(v.Variant.Model)) && (e.Shadow is null || visible(e.Shadow.Model))).ToArray(),
        Rollouts = Rollouts.Where(r => visible(r.Rollout.Model)).ToArray(),
    };
}

/// <summary>One endpoint: its variants with the requests routed to each, its experiment's readout and its shadow.</summary>
internal sealed record EndpointReading(string Name, IReadOnlyList<VariantReading> Variants, ExperimentReadout? Experiment,
    ShadowSpec? Shadow, ShadowTally.Snapshot? ShadowFigures);

/// <summary>A variant and the requests this server has routed to it.</summary>
internal sealed record VariantReading(Variant Variant, long Routed);

/// <summary>A rollout's stored state, with the current step's figures for its two sides while it routes.</summary>
internal sealed record RolloutReading(Rollout Rollout, VariantWindow.Snapshot? Baseline, VariantWindow.Snapshot? Candidate);
