using System.Globalization;
using Microsoft.Extensions.Logging;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Security;

namespace Quiver.Core.Routing;

/// <summary>
/// Drives the canary rollouts this server owns: at the end of each step it compares the candidate with the baseline
/// over the step's requests and advances, promotes (after the last step) or rolls back, recording each decision with
/// its numbers. It only changes the split; requests are never failed by it.
/// </summary>
public sealed partial class RolloutController : IAsyncDisposable
{
    private readonly ModelLifecycle _lifecycle;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly IAuditSink? _audit;

    /// <summary>The actor the audit log names for the controller's own decisions.</summary>
    public const string AuditActor = "rollout-controller";

    public RolloutController(ModelLifecycle lifecycle, TimeSpan tick, ILogger logger, IAuditSink? audit = null)
    {
        _lifecycle = lifecycle;
        _logger = logger;
        _audit = audit;
        _loop = Task.Run(() => RunAsync(tick));
    }

    /// <summary>Every rollout's current state, by model.</summary>
    public async Task<IReadOnlyDictionary<string, Rollout>> ReadAsync(CancellationToken cancellationToken) =>
        (await _lifecycle.Registry.GetRolloutsAsync(cancellationToken)).ToDictionary(r => r.Key, r => Rollout.Parse(r.Value));

    /// <summary>Starts a rollout owned by this server; refuses a second one on the model and versions that cannot serve.</summary>
    /// <param name="hidden">
    /// The caller may not see the model (another tenant's): once the settings are checked it is answered as a model
    /// the catalog does not have, before anything about its rollouts or endpoints shows.
    /// </param>
    public async Task<Rollout> StartAsync(string model, long candidate, int[] steps, double intervalSeconds, double maxErrorRate,
        double maxP99LatencyRatio, int minimumRequests, bool hidden, CancellationToken cancellationToken)
    {
        try
        {
            Rollout.Check(steps, intervalSeconds, maxErrorRate, maxP99LatencyRatio, minimumRequests);
        }
        catch (ArgumentException e)
        {
            throw RegistryException.Invalid(e.Message);
        }

        if (hidden)
        {
            throw NoBaseline(model, ModelCatalog.UnknownModelMessage(model));
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if ((await ReadAsync(cancellationToken)).TryGetValue(model, out Rollout? existing) && existing.Routes)
            {
                throw RegistryException.Conflict($"model '{model}' already has a {existing.State} rollout to version {existing.Candidate}; abort or finish it first.");
            }

            if (_lifecycle.Endpoints.Endpoints.ContainsKey(model))
            {
                throw RegistryException.Conflict($"an endpoint named '{model}' already routes this model's requests; remove it before a rollout.");
            }

            ServedModel baseline = _lifecycle.Catalog.Find(model, null, out Tensors.InferenceError? noBaseline)
                ?? throw NoBaseline(model, noBaseline!.Message);
            string version = candidate.ToString(CultureInfo.InvariantCulture);
            if (_lifecycle.Catalog.Find(model, version, out Tensors.InferenceError? notReady) is null)
            {
                throw notReady!.Kind == Tensors.ErrorKind.NotFound
                    ? RegistryException.NotFound(notReady.Message)
                    : RegistryException.Conflict($"candidate version {candidate} cannot serve: {notReady.Message}");
            }

            if (baseline.Version == candidate)
            {
                throw RegistryException.Invalid($"version {candidate} already serves model '{model}'; roll out another version.");
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            var rollout = new Rollout
            {
                Model = model, Baseline = baseline.Version, Candidate = candidate, Steps = steps, IntervalSeconds = intervalSeconds,
                MaxErrorRate = maxErrorRate, MaxP99LatencyRatio = maxP99LatencyRatio, MinimumRequests = minimumRequests,
                Owner = _lifecycle.Replica, StepStartedAt = now,
            }.With("start", $"{steps[0]}% of requests to version {candidate}, the rest to version {baseline.Version}", now);
            await SaveAsync(rollout, cancellationToken);
            return rollout;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A manual action: <c>pause</c> (hold the split), <c>resume</c> (restart the step here, taking ownership),
    /// <c>abort</c> (all traffic back to the baseline) or <c>promote</c> (the candidate becomes production now).
    /// </summary>
    public async Task<Rollout> ActAsync(string model, string action, string actor, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            Rollout rollout = (await ReadAsync(cancellationToken)).GetValueOrDefault(model)
                ?? throw RegistryException.NoRollout(model);
            if (!rollout.Routes)
            {
                throw RegistryException.Conflict($"the rollout of model '{model}' is {rollout.State}; start a new one.");
            }

            DateTimeOffset now = DateTimeOffset.UtcNow;
            string reason = $"by {actor}";
            Rollout next = action switch
            {
                "pause" when rollout.State == Rollout.Paused => throw RegistryException.Conflict("the rollout is already paused."),
                "pause" => rollout with { State = Rollout.Paused },
                "resume" when rollout.State == Rollout.Running => throw RegistryException.Conflict("the rollout is already running."),
                "resume" => rollout with { State = Rollout.Running, Owner = _lifecycle.Replica, StepStartedAt = now },
                "abort" => rollout with { State = Rollout.Aborted },
                "promote" => rollout with { State = Rollout.Promoted },
                _ => throw RegistryException.Invalid($"unknown action '{action}': use pause, resume, abort or promote."),
            };
            if (action == "resume")
            {
                TakeWindows(model); // the step starts afresh
            }

            return await FinishAsync(next.With(action, reason, now), cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private static RegistryException NoBaseline(string model, string why) =>
        RegistryException.NotFound($"model '{model}' has no serving version to roll out from: {why}");

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task RunAsync(TimeSpan tick)
    {
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                await _gate.WaitAsync(_stopping.Token);
                try
                {
                    foreach (Rollout rollout in (await ReadAsync(_stopping.Token)).Values)
                    {
                        if (rollout.State == Rollout.Running && rollout.Owner == _lifecycle.Replica
                            && DateTimeOffset.UtcNow - rollout.StepStartedAt >= TimeSpan.FromSeconds(rollout.IntervalSeconds))
                        {
                            await JudgeStepAsync(rollout, _stopping.Token);
                        }
                    }
                }
                catch (RegistryException e)
                {
                    Log.ControllerFailed(_logger, e.Message);
                }
                finally
                {
                    _gate.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task JudgeStepAsync(Rollout rollout, CancellationToken cancellationToken)
    {
        // Too little evidence to judge: the step goes on until the candidate has had enough requests, and, while the
        // baseline still serves, the baseline too (its p99 is the yardstick; judging without it once let a candidate
        // 13× slower through a 50% step on 29 baseline requests). A failing candidate is rolled back without waiting.
        VariantWindow.Snapshot candidateSoFar = _lifecycle.Endpoints.PeekWindow(rollout.Model, "candidate");
        bool baselineServes = rollout.CandidateWeight < 100;
        if (candidateSoFar.Requests < rollout.MinimumRequests
            || (baselineServes && candidateSoFar.ErrorRate <= rollout.MaxErrorRate
                && _lifecycle.Endpoints.PeekWindow(rollout.Model, "baseline").Requests < rollout.MinimumRequests))
        {
            return;
        }

        DateTimeOffset now = DateTimeOffset.UtcNow;
        (VariantWindow.Snapshot baseline, VariantWindow.Snapshot candidate) = TakeWindows(rollout.Model);
        string numbers = $"candidate {candidate.Requests} requests, error rate {candidate.ErrorRate:P2}, p99 {candidate.P99Milliseconds:F2} ms; " +
            $"baseline {baseline.Requests} requests, error rate {baseline.ErrorRate:P2}, p99 {baseline.P99Milliseconds:F2} ms";

        // At 100% the baseline serves nothing: the candidate is held to the baseline's p99 of the last step that had one.
        double? baselineP99 = baselineServes ? baseline.P99Milliseconds : rollout.BaselineP99Milliseconds;
        double ratio = baselineP99 > 0 ? candidate.P99Milliseconds / baselineP99.Value : 1;
        string yardstick = baselineServes ? "the baseline's" : $"the baseline's {baselineP99:F2} ms of the last step";
        rollout = rollout with { BaselineP99Milliseconds = baselineP99 };
        Rollout decided;
        if (candidate.ErrorRate > rollout.MaxErrorRate)
        {
            decided = await FinishAsync(rollout.With("rollback", $"error rate {candidate.ErrorRate:P2} above {rollout.MaxErrorRate:P2} ({numbers})", now)
                with { State = Rollout.RolledBack }, cancellationToken);
        }
        else if (ratio > rollout.MaxP99LatencyRatio)
        {
            decided = await FinishAsync(rollout.With("rollback", $"p99 latency {ratio:F2}× {yardstick}, above {rollout.MaxP99LatencyRatio:F2}× ({numbers})", now)
                with { State = Rollout.RolledBack }, cancellationToken);
        }
        else if (rollout.StepIndex == rollout.Steps.Length - 1)
        {
            decided = await FinishAsync(rollout.With("promote", $"healthy at 100% ({numbers})", now) with { State = Rollout.Promoted }, cancellationToken);
        }
        else
        {
            Rollout next = rollout with { StepIndex = rollout.StepIndex + 1, StepStartedAt = now };
            decided = next.With("advance", $"to {next.CandidateWeight}%: healthy at {rollout.CandidateWeight}% ({numbers})", now);
            await SaveAsync(decided, cancellationToken);
        }

        await AuditDecisionAsync(decided, baseline, candidate);
    }

    // The controller's own decisions are management actions too: recorded with the figures they were made on.
    private ValueTask AuditDecisionAsync(Rollout decided, VariantWindow.Snapshot baseline, VariantWindow.Snapshot candidate)
    {
        if (_audit is null)
        {
            return ValueTask.CompletedTask;
        }

        RolloutEvent decision = decided.History[^1];
        string? details = Security.Audit.AuditDetails.ToJson(new Dictionary<string, object?>
        {
            ["reason"] = decision.Reason,
            ["baseline_version"] = decided.Baseline,
            ["candidate_version"] = decided.Candidate,
            ["candidate_weight"] = decided.CandidateWeight,
            ["candidate_requests"] = candidate.Requests,
            ["candidate_error_rate"] = candidate.ErrorRate,
            ["candidate_p99_ms"] = candidate.P99Milliseconds,
            ["baseline_requests"] = baseline.Requests,
            ["baseline_error_rate"] = baseline.ErrorRate,
            ["baseline_p99_ms"] = baseline.P99Milliseconds,
            ["replica"] = _lifecycle.Replica,
        });
        return _audit.RecordAsync(new AuditEvent(AuditActor, $"rollouts.{decision.Action}", $"rollouts/{decided.Model}", "success") { Details = details });
    }

    private (VariantWindow.Snapshot Baseline, VariantWindow.Snapshot Candidate) TakeWindows(string model) =>
        (_lifecycle.Endpoints.TakeWindow(model, "baseline"), _lifecycle.Endpoints.TakeWindow(model, "candidate"));

    // A promoted candidate becomes the model's production version before the split goes away, so no request falls in between.
    private async Task<Rollout> FinishAsync(Rollout rollout, CancellationToken cancellationToken)
    {
        if (rollout.State == Rollout.Promoted)
        {
            await _lifecycle.Registry.SetAliasAsync(rollout.Model, ModelCatalog.DefaultAlias, rollout.Candidate, $"rollout by {rollout.Owner}", cancellationToken);
            await _lifecycle.ReconcileAsync(rollout.Model, cancellationToken);
        }

        await SaveAsync(rollout, cancellationToken);
        Log.Transition(_logger, rollout.Model, rollout.History[^1].Action, rollout.History[^1].Reason);
        return rollout;
    }

    private async Task SaveAsync(Rollout rollout, CancellationToken cancellationToken)
    {
        await _lifecycle.Registry.SetRolloutAsync(rollout.Model, rollout.ToJson(), cancellationToken);
        await _lifecycle.RefreshEndpointsAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "Rollout of {Model}: {Action}, {Reason}")]
        public static partial void Transition(ILogger logger, string model, string action, string reason);

        [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "Rollout controller could not reach the registry: {Error}")]
        public static partial void ControllerFailed(ILogger logger, string error);
    }
}
