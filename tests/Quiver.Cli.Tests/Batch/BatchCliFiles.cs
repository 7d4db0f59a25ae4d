using System.Globalization;
using System.Text;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Tests.Batch;

/// <summary>Models and inputs for the batch command's tests, in a temporary folder.</summary>
public sealed class BatchCliFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("quiver-batch-cli-").FullName;

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    /// <summary>input [batch,4] → 16 ReLU → probabilities [batch,3], seeded.</summary>
    public string SmallMlp(string name = "mlp.onnx", int seed = 1) => Save(name, Mlp(4, [16], 3, seed));

    /// <summary>A CSV with header f0…f(n-1) and seeded rows; the rows listed in <paramref name="bad"/> get a non-numeric cell.</summary>
    public string Csv(string name, int rows, int features, int seed = 3, params int[] bad)
    {
        var random = new Random(seed);
        var text = new StringBuilder(string.Join(",", Enumerable.Range(0, features).Select(i => $"f{i}")) + "\n");
        for (int r = 0; r < rows; r++)
        {
            text.AppendJoin(',', Enumerable.Range(0, features).Select(f =>
                bad.Contains(r) && f == 1 ? "oops" : (random.NextDouble() * 2 - 1).ToString("F4", CultureInfo.InvariantCulture)));
            text.Append('\n');
        }

        File.WriteAllText(Path(name), text.ToString());
        return Path(name);
    }

    /// <summary>A Triton-layout repository holding <paramref name="model"/> as NAME/1/model.onnx.</summary>
    public string Repository(string name, string model)
    {
        string folder = Path(System.IO.Path.Combine("repo", name, "1"));
        System.IO.Directory.CreateDirectory(folder);
        File.Copy(model, System.IO.Path.Combine(folder, "model.onnx"), overwrite: true);
        return Path("repo");
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless.
        }
    }

    private string Save(string name, ModelBuilder model)
    {
        model.Save(Path(name));
        return Path(name);
    }

    private static ModelBuilder Mlp(int inputs, int[] hidden, int outputs, int seed)
    {
        var random = new Random(seed);
        var builder = new ModelBuilder("mlp").Input("input", TensorElementType.Float, SampleModels.Batch, inputs);
        string previous = "input";
        int width = inputs;
        int[] layers = [.. hidden, outputs];
        for (int l = 0; l < layers.Length; l++)
        {
            // Uniform in ±1/√fan-in keeps activations near 1 through the layers.
            float scale = 1f / MathF.Sqrt(width);
            float[,] w = new float[width, layers[l]];
            for (int i = 0; i < width; i++)
            {
                for (int j = 0; j < layers[l]; j++)
                {
                    w[i, j] = (float)(random.NextDouble() * 2 - 1) * scale;
                }
            }

            float[] b = Enumerable.Range(0, layers[l]).Select(_ => (float)(random.NextDouble() * 0.2 - 0.1)).ToArray();
            bool last = l == layers.Length - 1;
            string linear = last ? "logits" : $"linear{l}";
            builder.Initializer($"w{l}", w).Initializer($"b{l}", b)
                .Node("Gemm", [previous, $"w{l}", $"b{l}"], [linear]);
            if (!last)
            {
                builder.Node("Relu", [linear], [$"hidden{l}"]);
                previous = $"hidden{l}";
            }

            width = layers[l];
        }

        if (outputs == 3)
        {
            builder.Node("Softmax", ["logits"], ["probabilities"], OnnxAttribute.Int("axis", -1));
            return builder.Output("probabilities", TensorElementType.Float, SampleModels.Batch, outputs);
        }

        return builder.Output("logits", TensorElementType.Float, SampleModels.Batch, outputs);
    }
}
