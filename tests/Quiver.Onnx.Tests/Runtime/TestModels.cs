using Quiver.Onnx.Model;

namespace Quiver.Onnx.Tests.Runtime;

/// <summary>Small models for the binding tests, written to a temporary folder once per test class.</summary>
internal sealed class TestModels : IDisposable
{
    public static readonly float[,] W1 = { { 0.5f, -1f, 0.25f }, { 1f, 0.5f, -0.5f }, { -0.25f, 0.75f, 1f }, { 0.1f, 0.2f, 0.3f } };
    public static readonly float[] B1 = [0.1f, -0.2f, 0.05f];
    public static readonly float[,] W2 = { { 1f, -1f }, { 0.5f, 0.25f }, { -0.75f, 1.5f } };
    public static readonly float[] B2 = [0.2f, -0.1f];

    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-binding-").FullName;

    public string Save(string name, ModelBuilder model)
    {
        string path = Path.Combine(_folder, name + ".onnx");
        model.Save(path);
        return path;
    }

    public string Mlp(bool softmax = true) => Save(softmax ? "mlp" : "mlp_logits", SampleModels.Mlp(W1, B1, W2, B2, softmax));

    /// <summary>The MLP computed in plain C#: relu(x·W1 + b1)·W2 + b2, then softmax per row.</summary>
    public static float[] ExpectedMlp(float[] x, int rows, bool softmax = true)
    {
        var result = new float[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            var hidden = new float[3];
            for (int j = 0; j < 3; j++)
            {
                float sum = B1[j];
                for (int k = 0; k < 4; k++)
                {
                    sum += x[(r * 4) + k] * W1[k, j];
                }

                hidden[j] = Math.Max(0, sum);
            }

            for (int j = 0; j < 2; j++)
            {
                float sum = B2[j];
                for (int k = 0; k < 3; k++)
                {
                    sum += hidden[k] * W2[k, j];
                }

                result[(r * 2) + j] = sum;
            }

            if (softmax)
            {
                float max = Math.Max(result[r * 2], result[(r * 2) + 1]);
                float e0 = MathF.Exp(result[r * 2] - max), e1 = MathF.Exp(result[(r * 2) + 1] - max);
                result[r * 2] = e0 / (e0 + e1);
                result[(r * 2) + 1] = e1 / (e0 + e1);
            }
        }

        return result;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
