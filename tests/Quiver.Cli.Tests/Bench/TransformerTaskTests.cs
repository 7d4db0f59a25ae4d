using System.Runtime.InteropServices;
using Quiver.Cli.Bench;
using Quiver.Cli.Optimize;
using Quiver.Core.Tensors;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Tests.Bench;

/// <summary>bench_transformer's classifier, fitted to a task of noisy class prototypes, and the labelled samples written beside it.</summary>
public sealed class TransformerTaskTests
{
    [Fact]
    public void Reference_ComputesWhatOnnxRuntimeComputes()
    {
        const int sequence = 8, width = 16;
        var seeded = new SeededWeights(3);
        TransformerWeights weights = TransformerWeights.Create(width, 4, seeded.Matrix, seeded.Bias);
        var random = new Random(4);
        float[] input = Enumerable.Range(0, sequence * width).Select(_ => (random.NextSingle() * 2) - 1).ToArray();

        double[] pooled = TransformerReference.PooledFeatures(weights, input, sequence);
        double[] expected = Enumerable.Range(0, 4)
            .Select(c => weights.ClassifierBias[c] + Enumerable.Range(0, width).Sum(d => pooled[d] * weights.Classifier[d, c]))
            .ToArray();
        using var session = InferenceSession.FromBytes(OnnxModel.ToBytes(SampleModels.TransformerBlock(sequence, weights).Build()));
        float[] logits = session.Run([new NamedTensor("input", TensorValue.FromArray([1, sequence, width], input))])[0].AsSpan<float>().ToArray();

        for (int c = 0; c < 4; c++)
        {
            Assert.True(Math.Abs(expected[c] - logits[c]) < 1e-4, $"logit {c}: reference {expected[c]}, ONNX Runtime {logits[c]}");
        }
    }

    [Fact]
    public void WrittenSamples_AreMostlyClassifiedAsTheirLabelsSay()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"quiver-bench-{Guid.NewGuid():N}");
        try
        {
            BenchModels.WriteRepository(directory);
            string folder = Path.Combine(directory, "bench_transformer");
            using var session = InferenceSession.FromFile(Path.Combine(folder, "1", "model.onnx"));
            IReadOnlyList<Sample> samples = ValidationData.Read(Path.Combine(folder, BenchModels.ValidationFile), session.Inputs, int.MaxValue);

            Assert.Equal(2048, samples.Count);
            int correct = 0;
            for (int i = 0; i < samples.Count; i++)
            {
                SampleTensor input = samples[i].Inputs["input"];
                Assert.Equal([32, 128], input.Shape);
                float[] values = MemoryMarshal.Cast<byte, float>(input.Data).ToArray();
                float[] logits = session.Run([new NamedTensor("input", TensorValue.FromArray([1, 32, 128], values))])[0].AsSpan<float>().ToArray();
                correct += Array.IndexOf(logits, logits.Max()) == i % 10 ? 1 : 0;
            }

            // Fitted, the classifier gets about 99% right (10% by chance); noisy, some samples are still misclassified.
            Assert.InRange(correct / (double)samples.Count, 0.95, 0.9995);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
