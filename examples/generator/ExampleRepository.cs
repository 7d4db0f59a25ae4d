using System.Globalization;
using System.Text;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Examples.Generator;

/// <summary>Writes the example model repository (Triton layout, &lt;model&gt;/&lt;version&gt;/model.onnx) byte-for-byte reproducibly.</summary>
public static class ExampleRepository
{
    /// <summary>Producer name stamped into every example model.</summary>
    public const string Producer = "quiver-examples";

    // Fixed, not the assembly version: the files must not change when nothing in them did.
    private const string ProducerVersion = "1";
    private const int Seed = 20261125;

    /// <summary>Trains the example classifiers and writes every model and side file under <paramref name="root"/>.</summary>
    public static GenerationReport Generate(string root)
    {
        var iris = IrisDataset.Load();
        var (mean, std) = Standardisation(iris.Rows);
        var standardised = iris.Rows.Select(r => r.Select((v, i) => (v - mean[i]) / std[i]).ToArray()).ToArray();

        var mlp = SoftmaxClassifier.Train(standardised, iris.Labels, classes: 3, hidden: 8, epochs: 3000, learningRate: 0.5, Seed)
            .FoldStandardisation(mean, std);
        var logistic = SoftmaxClassifier.Train(standardised, iris.Labels, classes: 3, hidden: 0, epochs: 3000, learningRate: 0.5, Seed)
            .FoldStandardisation(mean, std);
        var report = new GenerationReport(mlp.Accuracy(iris.Rows, iris.Labels), logistic.Accuracy(iris.Rows, iris.Labels));

        var irisDir = Path.Combine(root, "iris");
        Describe(
                SampleModels.Mlp(mlp.W1, mlp.B1, mlp.W2, mlp.B2),
                "Iris species classifier: 4 measurements (cm) → 8 ReLU → 3 softmax, trained by full-batch gradient descent.",
                report.MlpAccuracy)
            .ModelVersion(1)
            .Save(Path.Combine(irisDir, "1", "model.onnx"));
        Describe(
                LogisticRegression(logistic.W1, logistic.B1),
                "Iris species classifier: multinomial logistic regression on 4 measurements (cm), trained by full-batch gradient descent.",
                report.LogisticAccuracy)
            .ModelVersion(2)
            .Save(Path.Combine(irisDir, "2", "model.onnx"));
        WriteText(Path.Combine(irisDir, "labels.txt"), string.Join('\n', IrisDataset.Species) + "\n");
        WriteText(Path.Combine(irisDir, "config.json"), """
            {
              "max_batch_size": 64,
              "instance_count": 1,
              "intra_op_threads": 1,
              "label_files": { "probabilities": "labels.txt" }
            }

            """);

        SampleModels.StringIdentity()
            .Producer(Producer, ProducerVersion)
            .Domain("ai.quiver.examples")
            .ModelVersion(1)
            .DocString("Echoes a batch of strings unchanged: shows BYTES tensors end to end.")
            .Save(Path.Combine(root, "text_echo", "1", "model.onnx"));

        return report;
    }

    private static ModelBuilder Describe(ModelBuilder model, string description, double accuracy) =>
        model.Producer(Producer, ProducerVersion)
            .Domain("ai.quiver.examples")
            .DocString(description)
            .Metadata("dataset", "Fisher's Iris (150 rows, public domain)")
            .Metadata("inputs", string.Join(", ", IrisDataset.Features) + " (cm)")
            .Metadata("classes", string.Join(", ", IrisDataset.Species))
            .Metadata("training_accuracy", accuracy.ToString("0.0000", CultureInfo.InvariantCulture));

    private static ModelBuilder LogisticRegression(float[,] weights, float[] bias) =>
        new ModelBuilder("logistic_regression")
            .Input("input", TensorElementType.Float, SampleModels.Batch, weights.GetLength(0))
            .Initializer("w", weights)
            .Initializer("b", bias)
            .Node("Gemm", ["input", "w", "b"], ["logits"])
            .Node("Softmax", ["logits"], ["probabilities"], OnnxAttribute.Int("axis", -1))
            .Output("probabilities", TensorElementType.Float, SampleModels.Batch, weights.GetLength(1));

    private static (double[] Mean, double[] Std) Standardisation(IReadOnlyList<double[]> rows)
    {
        var features = rows[0].Length;
        var mean = Enumerable.Range(0, features).Select(i => rows.Average(r => r[i])).ToArray();
        var std = Enumerable.Range(0, features)
            .Select(i => Math.Sqrt(rows.Average(r => (r[i] - mean[i]) * (r[i] - mean[i]))))
            .ToArray();
        return (mean, std);
    }

    private static void WriteText(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }
}

/// <summary>Training accuracies of the generated iris models, on all 150 rows.</summary>
public sealed record GenerationReport(double MlpAccuracy, double LogisticAccuracy);
