namespace Quiver.Cli.Rollouts;

// The JSON of the rollout, experiment and endpoint admin API, read for tables only: --json prints the server's own text.
// Every member has a default so an older or newer server's missing or extra fields never break the CLI. Numbers the
// server cannot compute yet (a mean without outcomes) come as null.

/// <summary><c>GET /v2/admin/rollouts</c>.</summary>
public sealed record RolloutList
{
    public IReadOnlyList<RolloutRecord> Rollouts { get; init; } = [];
}

/// <summary>The answer of every call on one rollout: its stored state, the candidate's share now, and this server's figures for the step.</summary>
public sealed record RolloutReply
{
    public RolloutRecord Rollout { get; init; } = new();

    public int CandidateWeight { get; init; }

    public StepWindowRecord StepWindow { get; init; } = new();
}

/// <summary>A canary rollout of a model from its baseline version to a candidate.</summary>
public sealed record RolloutRecord
{
    public string Model { get; init; } = "";

    public long Baseline { get; init; }

    public long Candidate { get; init; }

    /// <summary>The candidate's share at each step, in percent.</summary>
    public IReadOnlyList<int> Steps { get; init; } = [];

    public int StepIndex { get; init; }

    public double IntervalSeconds { get; init; }

    /// <summary>A fraction: 0.01 is 1%.</summary>
    public double MaxErrorRate { get; init; }

    public double MaxP99LatencyRatio { get; init; }

    public int MinimumRequests { get; init; }

    /// <summary>running, paused, promoted, rolled_back or aborted.</summary>
    public string State { get; init; } = "";

    /// <summary>The replica whose controller drives the rollout.</summary>
    public string? Owner { get; init; }

    public DateTimeOffset? StepStartedAt { get; init; }

    /// <summary>Every transition with its reason, oldest first.</summary>
    public IReadOnlyList<RolloutEventRecord> History { get; init; } = [];
}

/// <summary>One transition of a rollout.</summary>
public sealed record RolloutEventRecord
{
    public DateTimeOffset? At { get; init; }

    public string Action { get; init; } = "";

    public string Reason { get; init; } = "";
}

/// <summary>The answering server's figures for the current step, per side.</summary>
public sealed record StepWindowRecord
{
    public WindowRecord Baseline { get; init; } = new();

    public WindowRecord Candidate { get; init; } = new();
}

/// <summary>Requests, failures and p99 latency of one side of a rollout in the current step.</summary>
public sealed record WindowRecord
{
    public long Requests { get; init; }

    public long Failures { get; init; }

    public double? P99Ms { get; init; }
}

/// <summary><c>GET /v2/admin/experiments/{endpoint}</c>: the statistics and the decision.</summary>
public sealed record ExperimentRecord
{
    public string Endpoint { get; init; } = "";

    /// <summary>binary or numeric.</summary>
    public string Metric { get; init; } = "";

    public long MinimumSamples { get; init; }

    public double Alpha { get; init; }

    /// <summary>continue, winner or no_difference.</summary>
    public string Decision { get; init; } = "";

    public string? Winner { get; init; }

    public string? Reason { get; init; }

    public IReadOnlyList<ExperimentVariantRecord> Variants { get; init; } = [];

    public IReadOnlyList<ComparisonRecord> Comparisons { get; init; } = [];
}

/// <summary>One variant's counts, mean and 95% interval.</summary>
public sealed record ExperimentVariantRecord
{
    public string Name { get; init; } = "";

    public string Model { get; init; } = "";

    public string Version { get; init; } = "";

    public double Weight { get; init; }

    public long Assigned { get; init; }

    public long Outcomes { get; init; }

    public double? Mean { get; init; }

    public double? CiLow { get; init; }

    public double? CiHigh { get; init; }
}

/// <summary>A treatment against the control: the fixed-horizon test and the always-valid sequential p-value.</summary>
public sealed record ComparisonRecord
{
    public string Variant { get; init; } = "";

    public string Against { get; init; } = "";

    public string Test { get; init; } = "";

    public double? Difference { get; init; }

    public double? CiLow { get; init; }

    public double? CiHigh { get; init; }

    public double? Statistic { get; init; }

    public double? PValue { get; init; }

    public double? SequentialPValue { get; init; }
}

/// <summary><c>POST /v2/admin/experiments/{endpoint}/conclude</c>.</summary>
public sealed record ConcludedRecord
{
    public string Endpoint { get; init; } = "";

    public string Winner { get; init; } = "";

    public string Model { get; init; } = "";

    public string Version { get; init; } = "";

    /// <summary>Whether the winner's version became the model's production.</summary>
    public bool Promoted { get; init; }
}

/// <summary><c>GET /v2/admin/endpoints</c>.</summary>
public sealed record EndpointList
{
    public IReadOnlyList<EndpointRecord> Endpoints { get; init; } = [];
}

/// <summary>An endpoint: its variants with their routed counts, and its shadow's figures.</summary>
public sealed record EndpointRecord
{
    public string Name { get; init; } = "";

    /// <summary>Whether the endpoint runs an A/B test.</summary>
    public bool Experiment { get; init; }

    public IReadOnlyList<EndpointVariantRecord> Variants { get; init; } = [];

    public ShadowRecord? Shadow { get; init; }
}

/// <summary>A variant of an endpoint; an empty <see cref="Version"/> is the model's default.</summary>
public sealed record EndpointVariantRecord
{
    public string Name { get; init; } = "";

    public string Model { get; init; } = "";

    public string Version { get; init; } = "";

    public double Weight { get; init; }

    /// <summary>Requests this server has routed to the variant.</summary>
    public long Routed { get; init; }
}

/// <summary>An endpoint's shadow and how its answers compare with the primary's.</summary>
public sealed record ShadowRecord
{
    public string Model { get; init; } = "";

    public string Version { get; init; } = "";

    public double Percent { get; init; }

    public long Compared { get; init; }

    public double? AgreementRate { get; init; }

    public double? MeanAbsoluteDifference { get; init; }

    public long Failed { get; init; }

    public long Dropped { get; init; }

    public double? PrimaryMeanMs { get; init; }

    public double? ShadowMeanMs { get; init; }
}
