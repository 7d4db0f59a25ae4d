namespace Quiver.Core.Routing.Statistics;

/// <summary>
/// The few distribution functions the experiment tests need, to about 1e-12 relative accuracy: the standard normal
/// (through the complementary error function) and Student's t (through the regularized incomplete beta function).
/// </summary>
public static class Distributions
{
    /// <summary>P(Z ≤ z) for a standard normal Z.</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    /// <summary>P(|Z| ≥ |z|): the two-sided p-value of a z statistic.</summary>
    public static double NormalTwoSidedP(double z) => Erfc(Math.Abs(z) / Math.Sqrt(2));

    /// <summary>The z with P(Z ≤ z) = p, by bisection on <see cref="NormalCdf"/> (for confidence intervals; not hot).</summary>
    public static double NormalQuantile(double p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(p, 1);
        double low = -40, high = 40;
        for (int i = 0; i < 200 && high - low > 1e-15; i++)
        {
            double middle = (low + high) / 2;
            (low, high) = NormalCdf(middle) < p ? (middle, high) : (low, middle);
        }

        return (low + high) / 2;
    }

    /// <summary>P(|T| ≥ |t|) for Student's t with <paramref name="degreesOfFreedom"/> (may be fractional, as Welch's).</summary>
    public static double StudentTwoSidedP(double t, double degreesOfFreedom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(degreesOfFreedom, 0);
        if (double.IsInfinity(t))
        {
            return 0;
        }

        // P(|T| ≥ t) = I_x(ν/2, 1/2) with x = ν / (ν + t²).
        return RegularizedIncompleteBeta(degreesOfFreedom / 2, 0.5, degreesOfFreedom / (degreesOfFreedom + (t * t)));
    }

    /// <summary>The complementary error function, erfc(x) = 1 - erf(x), accurate in both tails.</summary>
    public static double Erfc(double x)
    {
        if (x < 0)
        {
            return 2 - Erfc(-x);
        }

        if (x < 2)
        {
            // erf by its Taylor series: terms fall fast enough below 2 to sum to double precision.
            double sum = x, term = x, x2 = x * x;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -x2 / n;
                sum += term / ((2 * n) + 1);
            }

            return 1 - (2 / Math.Sqrt(Math.PI) * sum);
        }

        // erfc by its continued fraction (Lentz's method) in the tail, where 1 - erf would lose every digit.
        double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double a = n / 2.0;
            d = x + (a * d);
            d = Math.Abs(d) < tiny ? tiny : d;
            c = x + (a / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos approximation, g = 7, nine coefficients).</summary>
    public static double LogGamma(double x)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(x, 0);
        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        }

        ReadOnlySpan<double> coefficients =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        double sum = coefficients[0];
        for (int i = 1; i < coefficients.Length; i++)
        {
            sum += coefficients[i] / (x + i);
        }

        double t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function, by its continued fraction.</summary>
    public static double RegularizedIncompleteBeta(double a, double b, double x)
    {
        if (x <= 0)
        {
            return 0;
        }

        if (x >= 1)
        {
            return 1;
        }

        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry I_x(a,b) = 1 - I_{1-x}(b,a) otherwise.
        if (x > (a + 1) / (a + b + 2))
        {
            return 1 - RegularizedIncompleteBeta(b, a, 1 - x);
        }

        double front = Math.Exp((a * Math.Log(x)) + (b * Math.Log(1 - x)) - LogBeta(a, b)) / a;
        return front * BetaContinuedFraction(a, b, x);
    }

    private static double LogBeta(double a, double b) => LogGamma(a) + LogGamma(b) - LogGamma(a + b);

    // The continued fraction for I_x(a, b) (coefficients d_{2m} and d_{2m+1}), evaluated by Lentz's method.
    private static double BetaContinuedFraction(double a, double b, double x)
    {
        const double Tiny = 1e-300;
        double c = 1, d = 1 - ((a + b) * x / (a + 1));
        d = Math.Abs(d) < Tiny ? Tiny : d;
        d = 1 / d;
        double f = d;
        for (int m = 1; m < 1000; m++)
        {
            double even = m * (b - m) * x / ((a + (2 * m) - 1) * (a + (2 * m)));
            d = 1 + (even * d);
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = 1 + (even / c);
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            f *= c * d;

            double odd = -(a + m) * (a + b + m) * x / ((a + (2 * m)) * (a + (2 * m) + 1));
            d = 1 + (odd * d);
            d = Math.Abs(d) < Tiny ? Tiny : d;
            c = 1 + (odd / c);
            c = Math.Abs(c) < Tiny ? Tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-15)
            {
                break;
            }
        }

        return f;
    }
}
