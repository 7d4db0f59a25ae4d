using System.Globalization;
using Quiver.Cli.Admin;
using Spectre.Console;

namespace Quiver.Cli.Rollouts;

/// <summary>How rollouts, experiments and endpoints look: one-line summaries and tables, plain text throughout.</summary>
public static class RolloutTables
{
    /// <summary>
    /// A rollout in one line: "iris: running, version 1 → 2, candidate at 25% (step 2 of 4: 5, 25, 50, 100)", or once it
    /// is over, which version serves: "iris: rolled back, version 1 serves all traffic (candidate 2 reached 25%)".
    /// </summary>
    public static string Summary(RolloutRecord rollout, int candidateWeight) => rollout.State switch
    {
        "promoted" => $"{rollout.Model}: promoted, version {rollout.Candidate} serves all traffic (baseline was {rollout.Baseline})",
        "rolled_back" or "aborted" =>
            $"{rollout.Model}: {State(rollout.State)}, version {rollout.Baseline} serves all traffic (candidate {rollout.Candidate} reached {candidateWeight}%)",
        _ => $"{rollout.Model}: {State(rollout.State)}, version {rollout.Baseline} → {rollout.Candidate}, candidate at {candidateWeight}% " +
             $"(step {rollout.StepIndex + 1} of {rollout.Steps.Count}: {string.Join(", ", rollout.Steps)})",
    };

    /// <summary>The rollout's settings in one line: how long a step lasts and what rolls it back.</summary>
    public static string Settings(RolloutRecord rollout) =>
        $"{Display.Decimal(rollout.IntervalSeconds)} s per step, judged once the candidate has {rollout.MinimumRequests} requests in it; " +
        $"rolls back above an error rate of {Display.Percent(rollout.MaxErrorRate)} or a p99 latency {Display.Decimal(rollout.MaxP99LatencyRatio)}× the baseline's; " +
        $"driven by {Display.Text(rollout.Owner)}";

    /// <summary><c>rollout status</c>: the summary, the settings, this step's figures while it routes, and the history.</summary>
    public static void WriteStatus(IAnsiConsole console, RolloutReply reply)
    {
        RolloutRecord rollout = reply.Rollout;
        console.WriteLine(Summary(rollout, reply.CandidateWeight));
        console.WriteLine(Settings(rollout));
        if (rollout.State is "running" or "paused")
        {
            console.WriteLine();
            console.WriteLine($"this step on this server, since {Display.Time(rollout.StepStartedAt)}");
            Table window = AdminTables.Create("side", "version", "requests", "failures", "error rate", "p99");
            AddWindow(window, "baseline", rollout.Baseline, reply.StepWindow.Baseline);
            AddWindow(window, "candidate", rollout.Candidate, reply.StepWindow.Candidate);
            console.Write(window);
        }

        console.WriteLine();
        console.WriteLine("history");
        Table history = AdminTables.Create("time", "action", "reason");
        foreach (RolloutEventRecord change in rollout.History)
        {
            AdminTables.Add(history, Display.Time(change.At), change.Action, Display.Text(change.Reason));
        }

        console.Write(history);
    }

    /// <summary><c>rollout list</c>: one row per model, its latest rollout.</summary>
    public static Table Rollouts(IReadOnlyList<RolloutRecord> rollouts)
    {
        Table table = AdminTables.Create("model", "state", "baseline", "candidate", "candidate share", "step", "last change");
        foreach (RolloutRecord rollout in rollouts)
        {
            int weight = rollout.StepIndex < rollout.Steps.Count ? rollout.Steps[rollout.StepIndex] : 0;
            string last = rollout.History.Count == 0 ? Display.None : $"{Display.Time(rollout.History[^1].At)} {rollout.History[^1].Action}";
            AdminTables.Add(table, rollout.Model, State(rollout.State), Number(rollout.Baseline), Number(rollout.Candidate),
                rollout.State is "running" or "paused" ? $"{weight}%" : Display.None, $"{rollout.StepIndex + 1} of {rollout.Steps.Count}", last);
        }

        return table;
    }

    /// <summary><c>experiment status</c>: the decision with its reason, then each variant and each comparison with the control.</summary>
    public static void WriteExperiment(IAnsiConsole console, ExperimentRecord experiment)
    {
        console.WriteLine(experiment.Decision switch
        {
            "winner" => $"{experiment.Endpoint}: winner {Display.Text(experiment.Winner)}",
            "no_difference" => $"{experiment.Endpoint}: no difference",
            "continue" => $"{experiment.Endpoint}: continue, no decision yet",
            _ => $"{experiment.Endpoint}: {Display.Text(experiment.Decision)}",
        });
        console.WriteLine($"{experiment.Metric} metric, {experiment.MinimumSamples} outcomes planned per variant, alpha {Display.Decimal(experiment.Alpha)}");
        console.WriteLine($"reason: {Display.Text(experiment.Reason)}");
        console.WriteLine();
        console.WriteLine("variants (the first is the control)");
        Table variants = AdminTables.Create("variant", "model", "version", "weight", "assigned", "outcomes", "mean", "95% CI");
        foreach (ExperimentVariantRecord variant in experiment.Variants)
        {
            AdminTables.Add(variants, variant.Name, variant.Model, Version(variant.Version), Weight(variant.Weight), Number(variant.Assigned),
                Number(variant.Outcomes), Display.Decimal(variant.Mean), Interval(variant.CiLow, variant.CiHigh));
        }

        console.Write(variants);
        if (experiment.Comparisons.Count == 0)
        {
            return;
        }

        console.WriteLine();
        console.WriteLine("comparisons with the control");
        Table comparisons = AdminTables.Create("variant", "against", "difference", "95% CI", "test", "statistic", "p", "sequential p");
        foreach (ComparisonRecord comparison in experiment.Comparisons)
        {
            AdminTables.Add(comparisons, comparison.Variant, comparison.Against, Signed(comparison.Difference), Interval(comparison.CiLow, comparison.CiHigh),
                comparison.Test, Display.Decimal(comparison.Statistic), PValue(comparison.PValue), PValue(comparison.SequentialPValue));
        }

        console.Write(comparisons);
    }

    /// <summary>experiment conclude: "iris-ab: concluded, all traffic to logistic (iris version 2); iris: production → 2".</summary>
    public static string Concluded(ConcludedRecord concluded) =>
        $"{concluded.Endpoint}: concluded, all traffic to {concluded.Winner} ({concluded.Model} version {Version(concluded.Version)})" +
        (concluded.Promoted ? $"; {concluded.Model}: production → {concluded.Version}" : "");

    /// <summary><c>endpoint show</c> and <c>set</c>: the variants with their routed counts, then the shadow's figures.</summary>
    public static void WriteEndpoint(IAnsiConsole console, EndpointRecord endpoint)
    {
        string experiment = endpoint.Experiment ? $", runs an experiment (quiver experiment status {endpoint.Name})" : "";
        console.WriteLine($"{endpoint.Name}: {endpoint.Variants.Count} variant{(endpoint.Variants.Count == 1 ? "" : "s")}{experiment}");
        Table variants = AdminTables.Create("variant", "model", "version", "weight", "routed");
        foreach (EndpointVariantRecord variant in endpoint.Variants)
        {
            AdminTables.Add(variants, variant.Name, variant.Model, Version(variant.Version), Weight(variant.Weight), Number(variant.Routed));
        }

        console.Write(variants);
        if (endpoint.Shadow is not { } shadow)
        {
            return;
        }

        console.WriteLine();
        console.WriteLine($"shadow: {Percent(shadow.Percent)} of requests copied to {shadow.Model} version {Version(shadow.Version)}");
        Table figures = AdminTables.Create("compared", "agreement", "mean abs difference", "failed", "dropped", "primary mean", "shadow mean");
        AdminTables.Add(figures, Number(shadow.Compared), Display.Percent(shadow.Compared == 0 ? null : shadow.AgreementRate),
            Display.Decimal(shadow.Compared == 0 ? null : shadow.MeanAbsoluteDifference), Number(shadow.Failed), Number(shadow.Dropped),
            Milliseconds(shadow.Compared == 0 ? null : shadow.PrimaryMeanMs), Milliseconds(shadow.Compared == 0 ? null : shadow.ShadowMeanMs));
        console.Write(figures);
    }

    /// <summary><c>endpoint list</c>: one row per endpoint.</summary>
    public static Table Endpoints(IReadOnlyList<EndpointRecord> endpoints)
    {
        Table table = AdminTables.Create("endpoint", "variants", "experiment", "shadow", "routed");
        foreach (EndpointRecord endpoint in endpoints)
        {
            AdminTables.Add(table, endpoint.Name,
                Display.List(endpoint.Variants.Select(v => $"{v.Name} → {v.Model}:{Version(v.Version)} {Weight(v.Weight)}")),
                endpoint.Experiment ? "yes" : "no",
                endpoint.Shadow is { } shadow ? $"{shadow.Model}:{Version(shadow.Version)} {Percent(shadow.Percent)}" : Display.None,
                Number(endpoint.Variants.Sum(v => v.Routed)));
        }

        return table;
    }

    private static void AddWindow(Table table, string side, long version, WindowRecord window) =>
        AdminTables.Add(table, side, Number(version), Number(window.Requests), Number(window.Failures),
            Display.Percent(window.Requests == 0 ? null : (double)window.Failures / window.Requests),
            Milliseconds(window.Requests == 0 ? null : window.P99Ms));

    private static string State(string state) => state == "rolled_back" ? "rolled back" : Display.Text(state);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>An empty version is the model's default (production, else the latest).</summary>
    private static string Version(string version) => version.Length == 0 ? "default" : version;

    private static string Weight(double percent) => Percent(percent);

    private static string Percent(double percent) => Display.Decimal(percent, 2) + "%";

    private static string Signed(double? value) => value is > 0 ? "+" + Display.Decimal(value) : Display.Decimal(value);

    private static string Interval(double? low, double? high) =>
        low is null && high is null ? Display.None : $"[{Display.Decimal(low)}, {Display.Decimal(high)}]";

    private static string Milliseconds(double? value) => value is null ? Display.None : Display.Decimal(value, 2) + " ms";

    // Tiny p-values in scientific notation, so 3e-7 does not print as 0.
    private static string PValue(double? p) => p is > 0 and < 0.0001 ? p.Value.ToString("0.0e+0", CultureInfo.InvariantCulture) : Display.Decimal(p);
}
