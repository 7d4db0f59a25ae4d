using Quiver.Examples.Generator;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class ExampleRepositoryTests : IDisposable
{
    private static readonly string CommittedModels = Path.Combine(FindRepositoryRoot(), "examples", "models");

    private readonly string _directory = Directory.CreateTempSubdirectory("quiver-examples-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Generate_MatchesCommittedExamplesByteForByte()
    {
        ExampleRepository.Generate(_directory);

        var generated = RelativeFiles(_directory);
        Assert.Equal(generated, RelativeFiles(CommittedModels));
        foreach (var file in generated)
        {
            var same = File.ReadAllBytes(Path.Combine(_directory, file)).AsSpan()
                .SequenceEqual(File.ReadAllBytes(Path.Combine(CommittedModels, file)));
            Assert.True(same, $"examples/models/{file} differs from the generator's output; run: dotnet run --project examples/generator -- examples/models");
        }
    }

    [Fact]
    public void Generate_TrainsIrisModelsAbove95PercentAccuracy()
    {
        var report = ExampleRepository.Generate(_directory);

        Assert.True(report.MlpAccuracy > 0.95, $"MLP accuracy {report.MlpAccuracy}");
        Assert.True(report.LogisticAccuracy > 0.95, $"logistic regression accuracy {report.LogisticAccuracy}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void IrisModel_ClassifiesTheSampleRequestRows(int version)
    {
        var model = OnnxModel.Load(Path.Combine(CommittedModels, "iris", version.ToString(), "model.onnx"));

        Assert.Equal("quiver-examples", model.ProducerName);
        Assert.Equal(version, model.ModelVersion);
        Assert.StartsWith("Fisher's Iris", OnnxModel.GetMetadata(model, "dataset"));
        var setosa = Evaluate(model.Graph, [5.1f, 3.5f, 1.4f, 0.2f]);
        var virginica = Evaluate(model.Graph, [6.7f, 3.0f, 5.2f, 2.3f]);
        Assert.True(setosa[0] > 0.9, string.Join(", ", setosa));
        Assert.True(virginica[2] > 0.9, string.Join(", ", virginica));
        Assert.Equal(1.0, setosa.Sum(), 5);
    }

    [Fact]
    public void IrisSideFiles_NameTheClassesAndTheLabelFile()
    {
        Assert.Equal("setosa\nversicolor\nvirginica\n", File.ReadAllText(Path.Combine(CommittedModels, "iris", "labels.txt")));
        var config = File.ReadAllText(Path.Combine(CommittedModels, "iris", "config.json"));
        using var json = System.Text.Json.JsonDocument.Parse(config);
        Assert.Equal(64, json.RootElement.GetProperty("max_batch_size").GetInt32());
        Assert.Equal("labels.txt", json.RootElement.GetProperty("label_files").GetProperty("probabilities").GetString());
    }

    // Runs the two graph shapes the generator writes (Gemm [→ Relu → Gemm] → Softmax) from their initializers,
    // so the test checks the weights in the file, not the generator's in-memory copy.
    private static double[] Evaluate(GraphProto graph, float[] input)
    {
        var weights = graph.Initializer.ToDictionary(t => t.Name);
        double[] Gemm(double[] x, string w, string b)
        {
            var matrix = weights[w];
            var columns = (int)matrix.Dims[1];
            var values = OnnxTensors.ToArray<float>(matrix);
            var y = OnnxTensors.ToArray<float>(weights[b]).Select(v => (double)v).ToArray();
            for (var i = 0; i < x.Length; i++)
            {
                for (var j = 0; j < columns; j++)
                {
                    y[j] += x[i] * values[(i * columns) + j];
                }
            }

            return y;
        }

        var x = input.Select(v => (double)v).ToArray();
        var logits = weights.ContainsKey("w1")
            ? Gemm(Gemm(x, "w1", "b1").Select(v => Math.Max(0, v)).ToArray(), "w2", "b2")
            : Gemm(x, "w", "b");
        var exp = logits.Select(v => Math.Exp(v - logits.Max())).ToArray();
        return exp.Select(v => v / exp.Sum()).ToArray();
    }

    private static string[] RelativeFiles(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToArray();

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Quiver.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Quiver.slnx above {AppContext.BaseDirectory}.");
    }
}
