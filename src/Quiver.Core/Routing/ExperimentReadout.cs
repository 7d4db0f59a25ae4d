using Quiver.Core.Routing.Statistics;

namespace Quiver.Core.Routing;

/// <summary>One variant's numbers in a readout: assignments, outcomes, mean and its 95% interval.</summary>
public sealed record VariantReadout(Variant Variant, long Assigned, SampleSummary Outcomes, double Lower, double Upper);

/// <summary>A treatment against the control: the fixed-horizon test (valid at the planned sample size) and the always-valid p-value.</summary>
public sealed record TreatmentComparison(string Variant, string Test, Comparison FixedHorizon, double SequentialP);

/// <summary>
/// An experiment's state and decision: <c>continue</c>, <c>winner</c> (with the variant) or <c>no_difference</c>, and
/// the reason with the numbers behind it. The sequential test may decide at any look once each arm has
/// <see cref="SequentialTest.MinimumPerArm"/> outcomes; at the planned sample size the fixed-horizon tests decide.
/// </summary>
public sealed record ExperimentReadout(
    string Endpoint, ExperimentSpec Spec, IReadOnlyList<VariantReadout> Variants, IReadOnlyList<TreatmentComparison> Comparisons,
    string Decision, string? Winner, string Reason)
{
    public static ExperimentReadout Compute(string name, ServingEndpoint endpoint, ExperimentLedger ledger)
    {
        ExperimentSpec spec = endpoint.Experiment ?? throw new ArgumentException($"endpoint '{name}' runs no experiment.");
        double z = Distributions.NormalQuantile(0.975);
        var variants = endpoint.Split.Variants.Select(v =>
        {
            (long assigned, SampleSummary outcomes) = ledger.Summary(name, v.Name);
            double margin = outcomes.Count > 1 ? z * Math.Sqrt(outcomes.Variance / outcomes.Count) : double.NaN;
            return new VariantReadout(v, assigned, outcomes, outcomes.Mean - margin, outcomes.Mean + margin);
        }).ToArray();

        VariantReadout control = variants[0];
        var comparisons = new List<TreatmentComparison>();
        foreach (VariantReadout treatment in variants.Skip(1).Where(t => t.Outcomes.Count >= 2 && control.Outcomes.Count >= 2))
        {
            Comparison fixedHorizon = spec.Metric == ExperimentSpec.Binary
                ? HypothesisTests.TwoProportionZ(Conversions(control.Outcomes), control.Outcomes.Count, Conversions(treatment.Outcomes), treatment.Outcomes.Count)
                : HypothesisTests.Welch(control.Outcomes, treatment.Outcomes);
            comparisons.Add(new TreatmentComparison(treatment.Variant.Name, spec.Metric == ExperimentSpec.Binary ? "two_proportion_z" : "welch_t",
                fixedHorizon, ledger.SequentialP(name, treatment.Variant.Name)));
        }

        (string decision, string? winner, string reason) = Decide(spec, variants, comparisons);
        return new ExperimentReadout(name, spec, variants, comparisons, decision, winner, reason);
    }

    private static (string Decision, string? Winner, string Reason) Decide(
        ExperimentSpec spec, VariantReadout[] variants, List<TreatmentComparison> comparisons)
    {
        VariantReadout Best(IEnumerable<VariantReadout> candidates) => spec.HigherIsBetter
            ? candidates.MaxBy(v => v.Outcomes.Mean)!
            : candidates.MinBy(v => v.Outcomes.Mean)!;

        // The sequential test decides only once both arms have the outcomes its variance estimate needs (the ledger
        // takes no look before then either; checked here too so no stale p-value can decide on a handful of outcomes).
        bool Enough(string variant) => variants[0].Outcomes.Count >= SequentialTest.MinimumPerArm
            && variants.First(v => v.Variant.Name == variant).Outcomes.Count >= SequentialTest.MinimumPerArm;
        TreatmentComparison[] sequential = comparisons.Where(c => c.SequentialP <= spec.Alpha && Enough(c.Variant)).ToArray();
        if (sequential.Length > 0)
        {
            VariantReadout best = Best(variants.Where(v => v == variants[0] || sequential.Any(c => c.Variant == v.Variant.Name)));
            return ("winner", best.Variant.Name,
                $"the sequential test separates {string.Join(", ", sequential.Select(c => $"'{c.Variant}' (p = {c.SequentialP:G3})"))} " +
                $"from the control at alpha {spec.Alpha}; '{best.Variant.Name}' has the {(spec.HigherIsBetter ? "highest" : "lowest")} mean, {best.Outcomes.Mean:G4}.");
        }

        long fewest = variants.Min(v => v.Outcomes.Count);
        if (fewest < spec.MinimumSamples)
        {
            return ("continue", null, $"the smallest variant has {fewest} of the {spec.MinimumSamples} outcomes planned, and no sequential test has reached alpha {spec.Alpha}.");
        }

        TreatmentComparison[] significant = comparisons.Where(c => c.FixedHorizon.PValue <= spec.Alpha).ToArray();
        if (significant.Length == 0)
        {
            return ("no_difference", null,
                $"every variant reached {spec.MinimumSamples} outcomes and no treatment differs from the control at alpha {spec.Alpha} " +
                $"({string.Join(", ", comparisons.Select(c => $"'{c.Variant}': p = {c.FixedHorizon.PValue:G3}"))}).");
        }

        VariantReadout winner = Best(variants.Where(v => v == variants[0] || significant.Any(c => c.Variant == v.Variant.Name)));
        return ("winner", winner.Variant.Name,
            $"at the planned {spec.MinimumSamples} outcomes, {string.Join(", ", significant.Select(c => $"'{c.Variant}' (p = {c.FixedHorizon.PValue:G3})"))} " +
            $"differ from the control; '{winner.Variant.Name}' has the best mean, {winner.Outcomes.Mean:G4}.");
    }

    private static long Conversions(SampleSummary summary) => (long)Math.Round(summary.Mean * summary.Count);
}
