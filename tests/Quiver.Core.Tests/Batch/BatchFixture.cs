using System.Globalization;
using System.Text;
using System.Text.Json;
using Quiver.Core.Batch;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Batch;

/// <summary>A temporary folder with models and input files for batch tests, and the runner built in one place.</summary>
public sealed class BatchFixture : IDisposable
{
    public const int Features = 4;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("quiver-batch-").FullName;

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    /// <summary>A seeded MLP [batch,4] → [batch,3] written to NAME.onnx; another seed gives another model of the same shape.</summary>
    public string Mlp(string name = "mlp", int seed = 1, int hidden = 16)
    {
        var random = new Random(seed);
        float[,] w1 = new float[Features, hidden];
        float[,] w2 = new float[hidden, 3];
        for (int i = 0; i < Features; i++)
        {
            for (int j = 0; j < hidden; j++)
            {
                w1[i, j] = (float)(random.NextDouble() - 0.5);
            }
        }

        for (int i = 0; i < hidden; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                w2[i, j] = (float)(random.NextDouble() - 0.5);
            }
        }

        float[] b1 = Enumerable.Range(0, hidden).Select(i => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] b2 = [0.1f, -0.2f, 0.3f];
        string path = Path(name + ".onnx");
        SampleModels.Mlp(w1, b1, w2, b2).Save(path);
        return path;
    }

    /// <summary>Rows of seeded random features, the same for every call with the same seed.</summary>
    public static float[][] RandomRows(int count, int seed = 3)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => Enumerable.Range(0, Features).Select(_ => (float)Math.Round(random.NextDouble() * 8 - 4, 3)).ToArray())
            .ToArray();
    }

    /// <summary>A CSV with header f0..f3 and these rows.</summary>
    public string Csv(string name, float[][] rows, string? header = null)
    {
        var text = new StringBuilder((header ?? string.Join(",", Enumerable.Range(0, Features).Select(i => $"f{i}"))) + "\n");
        foreach (float[] row in rows)
        {
            text.Append(string.Join(",", row.Select(v => v.ToString(CultureInfo.InvariantCulture)))).Append('\n');
        }

        return Text(name, text.ToString());
    }

    public string Text(string name, string content)
    {
        File.WriteAllText(Path(name), content);
        return Path(name);
    }

    /// <summary>A .npy file holding the rows as one 2-D float32 tensor, as numpy.save writes it.</summary>
    public string Npy(string name, float[][] rows)
    {
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Length}, {Features}), }}";
        int padded = (10 + header.Length + 1 + 63) / 64 * 64;
        header = header.PadRight(padded - 10 - 1) + "\n";
        using var file = File.Create(Path(name));
        file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y']);
        file.Write([1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)]);
        file.Write(Encoding.Latin1.GetBytes(header));
        foreach (float[] row in rows)
        {
            foreach (float v in row)
            {
                file.Write(BitConverter.GetBytes(v));
            }
        }

        return Path(name);
    }

    /// <summary>Runs a job with a model file on one thread.</summary>
    public static BatchResult Run(string model, BatchOptions options, Action<BatchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var file = BatchModel.Locate(model, null);
        using InferenceSession session = file.Load(new SessionSettings { IntraOpThreads = 1 });
        return new BatchRunner(options, file, session).Run(progress, cancellationToken);
    }

    /// <summary>Each row of the model run alone through ONNX Runtime: what the batch job must reproduce.</summary>
    public static float[][] PerRow(string model, float[][] rows)
    {
        using InferenceSession session = InferenceSession.FromFile(model);
        return rows.Select(row =>
            session.Run([new NamedTensor("input", TensorValue.FromArray([1, Features], row))])[0].AsSpan<float>().ToArray()).ToArray();
    }

    /// <summary>The JSON lines output as (row, probabilities) pairs.</summary>
    public static List<(long Row, float[] Values)> ReadJsonLines(string path) =>
        File.ReadLines(path).Select(line =>
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            return (doc.RootElement.GetProperty("row").GetInt64(),
                doc.RootElement.GetProperty("probabilities").EnumerateArray().Select(v => v.GetSingle()).ToArray());
        }).ToList();

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
}
