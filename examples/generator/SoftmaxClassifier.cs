namespace Quiver.Examples.Generator;

/// <summary>
/// A softmax classifier, optionally with one ReLU hidden layer, trained by plain full-batch gradient descent
/// on cross-entropy. Deterministic: the only randomness is the seeded weight initialisation.
/// </summary>
/// <remarks>
/// Training runs on standardised features (zero mean, unit variance), which lets one learning rate suit all four
/// measurements; <see cref="FoldStandardisation"/> then moves the scaling into the first layer, so the exported
/// model takes raw centimetres.
/// </remarks>
public sealed class SoftmaxClassifier
{
    private readonly double[][] _w1;
    private readonly double[] _b1;
    private readonly double[][]? _w2;
    private readonly double[]? _b2;

    private SoftmaxClassifier(double[][] w1, double[] b1, double[][]? w2, double[]? b2)
    {
        (_w1, _b1, _w2, _b2) = (w1, b1, w2, b2);
    }

    /// <summary>Whether the classifier has a hidden layer (w2 and b2 present).</summary>
    public bool HasHiddenLayer => _w2 is not null;

    /// <summary>Trains on rows and labels; <paramref name="hidden"/> 0 gives multinomial logistic regression.</summary>
    public static SoftmaxClassifier Train(
        IReadOnlyList<double[]> rows, IReadOnlyList<int> labels, int classes, int hidden, int epochs, double learningRate, int seed)
    {
        var inputs = rows[0].Length;
        var random = new Random(seed);
        var firstWidth = hidden > 0 ? hidden : classes;
        var model = new SoftmaxClassifier(
            GlorotUniform(random, inputs, firstWidth),
            new double[firstWidth],
            hidden > 0 ? GlorotUniform(random, hidden, classes) : null,
            hidden > 0 ? new double[classes] : null);

        for (var epoch = 0; epoch < epochs; epoch++)
        {
            model.Step(rows, labels, learningRate);
        }

        return model;
    }

    /// <summary>Class probabilities for one row.</summary>
    public double[] Predict(double[] row) => Forward(row).Probabilities;

    /// <summary>The fraction of rows whose most probable class is their label.</summary>
    public double Accuracy(IReadOnlyList<double[]> rows, IReadOnlyList<int> labels)
    {
        var correct = 0;
        for (var n = 0; n < rows.Count; n++)
        {
            var p = Predict(rows[n]);
            correct += Array.IndexOf(p, p.Max()) == labels[n] ? 1 : 0;
        }

        return (double)correct / rows.Count;
    }

    /// <summary>
    /// An equivalent classifier for raw inputs: x ↦ this((x − mean) / std), folded into the first layer as
    /// w1'[i, j] = w1[i, j] / std[i] and b1'[j] = b1[j] − Σᵢ mean[i] · w1'[i, j].
    /// </summary>
    public SoftmaxClassifier FoldStandardisation(double[] mean, double[] std)
    {
        var w1 = _w1.Select((row, i) => row.Select(w => w / std[i]).ToArray()).ToArray();
        var b1 = _b1.Select((b, j) => b - Enumerable.Range(0, mean.Length).Sum(i => mean[i] * w1[i][j])).ToArray();
        return new SoftmaxClassifier(w1, b1, _w2, _b2);
    }

    /// <summary>First-layer weights [inputs, width] as float.</summary>
    public float[,] W1 => ToMatrix(_w1);

    /// <summary>First-layer bias as float.</summary>
    public float[] B1 => _b1.Select(b => (float)b).ToArray();

    /// <summary>Second-layer weights [hidden, classes] as float.</summary>
    public float[,] W2 => ToMatrix(_w2 ?? throw new InvalidOperationException("No hidden layer."));

    /// <summary>Second-layer bias as float.</summary>
    public float[] B2 => (_b2 ?? throw new InvalidOperationException("No hidden layer.")).Select(b => (float)b).ToArray();

    private void Step(IReadOnlyList<double[]> rows, IReadOnlyList<int> labels, double learningRate)
    {
        var gw1 = Zeros(_w1);
        var gb1 = new double[_b1.Length];
        var gw2 = _w2 is null ? null : Zeros(_w2);
        var gb2 = _b2 is null ? null : new double[_b2.Length];
        var scale = 1.0 / rows.Count;

        for (var n = 0; n < rows.Count; n++)
        {
            var x = rows[n];
            var (hidden, p) = Forward(x);

            // d(cross-entropy)/d(logits) = p − onehot(label), averaged over the batch.
            var dLogits = p.Select((v, k) => (v - (k == labels[n] ? 1 : 0)) * scale).ToArray();
            var dFirst = dLogits;
            if (_w2 is not null)
            {
                Accumulate(gw2!, gb2!, hidden!, dLogits);
                dFirst = new double[_b1.Length];
                for (var j = 0; j < dFirst.Length; j++)
                {
                    if (hidden![j] > 0)
                    {
                        dFirst[j] = Dot(_w2[j], dLogits);
                    }
                }
            }

            Accumulate(gw1, gb1, x, dFirst);
        }

        Descend(_w1, _b1, gw1, gb1, learningRate);
        if (_w2 is not null)
        {
            Descend(_w2, _b2!, gw2!, gb2!, learningRate);
        }
    }

    private (double[]? Hidden, double[] Probabilities) Forward(double[] x)
    {
        var first = Affine(x, _w1, _b1);
        if (_w2 is null)
        {
            return (null, Softmax(first));
        }

        var hidden = first.Select(v => Math.Max(0, v)).ToArray();
        return (hidden, Softmax(Affine(hidden, _w2, _b2!)));
    }

    private static double[] Affine(double[] x, double[][] w, double[] b)
    {
        var y = (double[])b.Clone();
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = 0; j < y.Length; j++)
            {
                y[j] += x[i] * w[i][j];
            }
        }

        return y;
    }

    private static double[] Softmax(double[] z)
    {
        var max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static void Accumulate(double[][] gw, double[] gb, double[] input, double[] delta)
    {
        for (var i = 0; i < input.Length; i++)
        {
            for (var j = 0; j < delta.Length; j++)
            {
                gw[i][j] += input[i] * delta[j];
            }
        }

        for (var j = 0; j < delta.Length; j++)
        {
            gb[j] += delta[j];
        }
    }

    private static void Descend(double[][] w, double[] b, double[][] gw, double[] gb, double learningRate)
    {
        for (var i = 0; i < w.Length; i++)
        {
            for (var j = 0; j < w[i].Length; j++)
            {
                w[i][j] -= learningRate * gw[i][j];
            }
        }

        for (var j = 0; j < b.Length; j++)
        {
            b[j] -= learningRate * gb[j];
        }
    }

    private static double Dot(double[] a, double[] b) => a.Select((v, i) => v * b[i]).Sum();

    private static double[][] Zeros(double[][] like) => like.Select(r => new double[r.Length]).ToArray();

    private static double[][] GlorotUniform(Random random, int fanIn, int fanOut)
    {
        var limit = Math.Sqrt(6.0 / (fanIn + fanOut));
        return Enumerable.Range(0, fanIn)
            .Select(_ => Enumerable.Range(0, fanOut).Select(_ => ((random.NextDouble() * 2) - 1) * limit).ToArray())
            .ToArray();
    }

    private static float[,] ToMatrix(double[][] rows)
    {
        var m = new float[rows.Length, rows[0].Length];
        for (var i = 0; i < rows.Length; i++)
        {
            for (var j = 0; j < rows[i].Length; j++)
            {
                m[i, j] = (float)rows[i][j];
            }
        }

        return m;
    }
}
