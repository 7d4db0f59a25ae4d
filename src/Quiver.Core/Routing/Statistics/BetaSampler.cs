namespace Quiver.Core.Routing.Statistics;

/// <summary>Draws from Beta and Gamma distributions (Marsaglia and Tsang's method for Gamma), for Thompson sampling.</summary>
public static class BetaSampler
{
    /// <summary>A draw from Beta(a, b), as X / (X + Y) with X ~ Gamma(a) and Y ~ Gamma(b).</summary>
    public static double Next(Random random, double a, double b)
    {
        double x = Gamma(random, a), y = Gamma(random, b);
        return x / (x + y);
    }

    /// <summary>A draw from Gamma(shape, 1).</summary>
    public static double Gamma(Random random, double shape)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(shape, 0);
        if (shape < 1)
        {
            // Gamma(a) = Gamma(a + 1) · U^(1/a).
            return Gamma(random, shape + 1) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        }

        double d = shape - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < (0.5 * x * x) + d - (d * v) + (d * Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    // Box–Muller.
    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
