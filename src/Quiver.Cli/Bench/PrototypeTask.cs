using System.Buffers.Binary;
using System.Text;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Bench;

/// <summary>
/// The classification task bench_transformer's classifier is fitted to, so that top-1 agreement between it and an
/// optimized copy is measured where top-1 means something (a random classifier on random inputs puts its ten logits
/// within hundredths of each other). Class c's inputs are a seeded prototype [sequence, width], uniform in ±1, plus
/// Gaussian noise; the classifier picks the class whose centroid of pooled block features is nearest, the centroids
/// being the features of the prototypes themselves.
/// </summary>
public sealed class PrototypeTask
{
    private readonly float[][] _prototypes;
    private readonly int _sequence;
    private readonly int _width;
    private readonly double _noise;

    /// <summary>A task of <paramref name="classes"/> prototypes drawn from <paramref name="seed"/>; samples add noise of standard deviation <paramref name="noise"/>.</summary>
    public PrototypeTask(int sequence, int width, int classes, double noise, int seed)
    {
        var random = new Random(seed);
        _prototypes = Enumerable.Range(0, classes)
            .Select(_ => Enumerable.Range(0, sequence * width).Select(_ => (random.NextSingle() * 2) - 1).ToArray())
            .ToArray();
        (_sequence, _width, _noise) = (sequence, width, noise);
    }

    /// <summary>
    /// <paramref name="block"/> with its classifier replaced by the nearest-centroid rule, largest for the centroid μ_c
    /// nearest to the pooled features x: logit_c = (μ_c − μ̄) · x − (|μ_c|² − |μ̄|²) / 2, the mean centroid μ̄ taken
    /// out of every class alike (it does not change which is largest) so the weights hold only what tells classes apart.
    /// </summary>
    public TransformerWeights FitClassifier(TransformerWeights block)
    {
        double[][] centroids = _prototypes.Select(p => TransformerReference.PooledFeatures(block, p, _sequence)).ToArray();
        double[] mean = Enumerable.Range(0, _width).Select(d => centroids.Average(c => c[d])).ToArray();
        double meanNorm = mean.Sum(value => value * value);
        var classifier = new float[_width, centroids.Length];
        var bias = new float[centroids.Length];
        for (int c = 0; c < centroids.Length; c++)
        {
            for (int d = 0; d < _width; d++)
            {
                classifier[d, c] = (float)(centroids[c][d] - mean[d]);
            }

            bias[c] = (float)(-(centroids[c].Sum(value => value * value) - meanNorm) / 2);
        }

        return block with { Classifier = classifier, ClassifierBias = bias };
    }

    /// <summary>Writes <paramref name="count"/> samples as a NumPy .npy float32 [count, sequence, width]; sample i is of class i mod classes.</summary>
    public void WriteSamples(string path, int count, int seed)
    {
        var random = new Random(seed);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        WriteNpyHeader(file, $"({count}, {_sequence}, {_width})");
        var bytes = new byte[_sequence * _width * sizeof(float)];
        for (int i = 0; i < count; i++)
        {
            float[] prototype = _prototypes[i % _prototypes.Length];
            for (int e = 0; e < prototype.Length; e++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(e * sizeof(float)), prototype[e] + (float)(_noise * Gaussian(random)));
            }

            file.Write(bytes);
        }
    }

    // Version 1.0 header, padded with spaces to a multiple of 64 bytes and ended by a newline.
    private static void WriteNpyHeader(Stream stream, string shape)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        header += new string(' ', 63 - ((10 + header.Length) % 64)) + "\n";
        Span<byte> prefix = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0, 0];
        BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
    }

    // Box–Muller: a standard normal value from two uniform ones.
    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
