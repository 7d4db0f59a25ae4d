using System.Globalization;
using System.Text.Json;

namespace Quiver.Core.Routing;

/// <summary>One thing that happened to a rollout, with why (and the numbers behind it).</summary>
public sealed record RolloutEvent(DateTimeOffset At, string Action, string Reason);

/// <summary>
/// A canary rollout of a model from its baseline version to a candidate: the candidate's share of the model's
/// traffic goes through <see cref="Steps"/> (percent), each held for <see cref="IntervalSeconds"/> and judged
/// against the baseline (error rate, p99 latency ratio) before the next; the last step promotes. Stored as JSON in
/// the registry, so a restarted server resumes where it was. Only <see cref="Owner"/>'s controller acts on it.
/// </summary>
public sealed record Rollout
{
    public const string Running = "running";
    public const string Paused = "paused";
    public const string Promoted = "promoted";
    public const string RolledBack = "rolled_back";
    public const string Aborted = "aborted";

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public required string Model { get; init; }

    public required long Baseline { get; init; }

    public required long Candidate { get; init; }

    public required int[] Steps { get; init; }

    public int StepIndex { get; init; }

    public double IntervalSeconds { get; init; } = 120;

    /// <summary>The candidate's largest error rate in a step (a fraction, 0.01 = 1%).</summary>
    public double MaxErrorRate { get; init; } = 0.01;

    /// <summary>The largest candidate p99 / baseline p99 latency in a step.</summary>
    public double MaxP99LatencyRatio { get; init; } = 1.5;

    /// <summary>Requests the candidate must have had in a step before it is judged; fewer extends the step.</summary>
    public int MinimumRequests { get; init; } = 20;

    public string State { get; init; } = Running;

    /// <summary>The baseline's p99 in the last judged step it served (ms): the yardstick for the 100% step. Null before.</summary>
    public double? BaselineP99Milliseconds { get; init; }

    public required string Owner { get; init; }

    public DateTimeOffset StepStartedAt { get; init; }

    public IReadOnlyList<RolloutEvent> History { get; init; } = [];

    /// <summary>The candidate's share now, in percent.</summary>
    public int CandidateWeight => Steps[StepIndex];

    /// <summary>Whether the rollout still splits the model's traffic.</summary>
    public bool Routes => State is Running or Paused;

    /// <summary>The split the rollout routes the model's unversioned requests by.</summary>
    public ServingEndpoint ToEndpoint() => new(VariantSplit.Create(Model,
    [
        new Variant("baseline", Model, Baseline.ToString(CultureInfo.InvariantCulture), 100 - CandidateWeight),
        new Variant("candidate", Model, Candidate.ToString(CultureInfo.InvariantCulture), CandidateWeight),
    ]), null);

    /// <summary>This rollout with one more event in its history.</summary>
    public Rollout With(string action, string reason, DateTimeOffset at) => this with { History = [.. History, new RolloutEvent(at, action, reason)] };

    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    public static Rollout Parse(string json) => JsonSerializer.Deserialize<Rollout>(json, s_json)
        ?? throw new JsonException("the rollout state is null.");

    /// <summary>Checks the steps and thresholds; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static void Check(int[] steps, double intervalSeconds, double maxErrorRate, double maxP99LatencyRatio, int minimumRequests)
    {
        if (steps.Length == 0 || steps[^1] != 100 || steps.Any(s => s is <= 0 or > 100) || steps.Zip(steps.Skip(1)).Any(p => p.Second <= p.First))
        {
            throw new ArgumentException($"steps must rise from above 0 to exactly 100 percent, e.g. [5, 25, 50, 100]; got [{string.Join(", ", steps)}].");
        }

        if (intervalSeconds <= 0 || maxErrorRate is < 0 or > 1 || maxP99LatencyRatio <= 0 || minimumRequests < 1)
        {
            throw new ArgumentException(
                "interval_seconds must be positive, max_error_rate a fraction from 0 to 1, max_p99_latency_ratio positive and minimum_requests at least 1.");
        }
    }
}
