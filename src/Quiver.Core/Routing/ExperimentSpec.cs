namespace Quiver.Core.Routing;

/// <summary>
/// An A/B/n test on an endpoint: the primary metric (<c>binary</c> conversions or a <c>numeric</c> reward), the
/// planned sample size per variant for the fixed-horizon readout, the significance level, and τ² for the sequential
/// test (about the square of the smallest effect worth finding; by default 0.05² for conversions, 1 for numbers).
/// The first variant is the control every other is compared with; <see cref="HigherIsBetter"/> is false for an error.
/// With <see cref="Bandit"/>, requests without a routing key go by Thompson sampling instead of the weights.
/// </summary>
public sealed record ExperimentSpec(string Metric, long MinimumSamples, double Alpha = 0.05, double? MixtureVariance = null,
    bool HigherIsBetter = true, bool Bandit = false)
{
    public const string Binary = "binary";
    public const string Numeric = "numeric";

    /// <summary>τ² as given, or the metric's default.</summary>
    public double EffectiveMixtureVariance => MixtureVariance ?? (Metric == Binary ? 0.05 * 0.05 : 1);

    /// <summary>Checks the settings against the split; throws <see cref="ArgumentException"/> saying what is wrong.</summary>
    public static ExperimentSpec Check(ExperimentSpec spec, VariantSplit split)
    {
        if (spec.Metric is not (Binary or Numeric))
        {
            throw new ArgumentException($"experiment metric '{spec.Metric}' is unknown; use \"{Binary}\" (conversions) or \"{Numeric}\" (a reward or error).");
        }

        if (spec.MinimumSamples < 2)
        {
            throw new ArgumentException("experiment minimum_samples must be at least 2 outcomes per variant.");
        }

        if (spec.Alpha is <= 0 or >= 1)
        {
            throw new ArgumentException($"experiment alpha must be between 0 and 1, got {spec.Alpha}.");
        }

        if (spec.MixtureVariance is <= 0)
        {
            throw new ArgumentException("experiment mixture_variance must be positive.");
        }

        if (spec.Bandit && spec.Metric != Binary)
        {
            throw new ArgumentException("bandit routing (Thompson sampling) needs the binary metric.");
        }

        if (split.Variants.Count < 2)
        {
            throw new ArgumentException("an experiment needs at least two variants: the first is the control.");
        }

        return spec;
    }
}
