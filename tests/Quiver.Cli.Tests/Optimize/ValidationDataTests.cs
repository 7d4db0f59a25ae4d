using System.Text;
using Quiver.Cli.Optimize;
using Quiver.Onnx;

namespace Quiver.Cli.Tests.Optimize;

/// <summary>Reading --validation and --calibration files in-process: shapes, nesting, types and batching.</summary>
public sealed class ValidationDataTests : IDisposable
{
    private static readonly TensorInfo s_sequence = new("tokens", TensorElementType.Float, [-1, -1, 3], ["batch", "seq", ""]);
    private static readonly TensorInfo s_flags = new("flags", TensorElementType.Bool, [-1, 2], ["batch", ""]);
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-validation-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Read_NestedArraysWithASymbolicDimension_KeepEachSamplesShape()
    {
        string path = Write("data.jsonl", """
            {"tokens": [[1, 2, 3], [4, 5, 6]], "flags": [true, false]}

            {"tokens": [[7, 8, 9]], "flags": [false, false]}
            """);

        IReadOnlyList<Sample> samples = ValidationData.Read(path, [s_sequence, s_flags], maxSamples: 10);

        Assert.Equal(2, samples.Count);
        Assert.Equal([2L, 3L], samples[0].Inputs["tokens"].Shape);
        Assert.Equal([1L, 3L], samples[1].Inputs["tokens"].Shape);
        Assert.Equal([1, 0], samples[0].Inputs["flags"].Data);
        Assert.Equal(6f, BitConverter.ToSingle(samples[0].Inputs["tokens"].Data, 20));
    }

    [Fact]
    public void Group_SamplesOfDifferentShapes_NeverShareABatch()
    {
        string path = Write("data.jsonl", """
            {"tokens": [[1, 2, 3]], "flags": [true, true]}
            {"tokens": [[1, 2, 3]], "flags": [true, true]}
            {"tokens": [[1, 2, 3], [4, 5, 6]], "flags": [true, true]}
            """);
        IReadOnlyList<Sample> samples = ValidationData.Read(path, [s_sequence, s_flags], maxSamples: 10);

        var batches = Batches.Group(samples, batchSize: 32).ToList();

        Assert.Equal([2, 1], batches.Select(b => b.Count));
        NamedTensor tokens = Batches.Stack(batches[0]).Single(t => t.Name == "tokens");
        Assert.Equal([2L, 1L, 3L], tokens.Value.Shape);
    }

    [Fact]
    public void Read_FlatArrayForAFixedSampleShape_IsReshaped()
    {
        var input = new TensorInfo("image", TensorElementType.Float, [-1, 2, 2], ["batch", "", ""]);
        string path = Write("data.jsonl", "[1, 2, 3, 4]\n");

        Sample sample = Assert.Single(ValidationData.Read(path, [input], maxSamples: 10));

        Assert.Equal([2L, 2L], sample.Inputs["image"].Shape);
    }

    [Fact]
    public void Read_MaxSamples_StopsReading()
    {
        var input = new TensorInfo("x", TensorElementType.Int64, [-1, 1], ["batch", ""]);
        string path = Write("data.jsonl", string.Join("\n", Enumerable.Range(0, 10).Select(i => $"[{i}]")));

        Assert.Equal(3, ValidationData.Read(path, [input], maxSamples: 3).Count);
    }

    [Fact]
    public void Read_MissingInputAndWrongElementType_NameTheLineAndInput()
    {
        string missing = Write("missing.jsonl", """{"tokens": [[1, 2, 3]]}""");
        string wrongType = Write("wrong.jsonl", """{"tokens": [[1, 2, 3]], "flags": [1, 0]}""");

        var e1 = Assert.Throws<OptimizeException>(() => ValidationData.Read(missing, [s_sequence, s_flags], 10, "--calibration"));
        var e2 = Assert.Throws<OptimizeException>(() => ValidationData.Read(wrongType, [s_sequence, s_flags], 10));

        Assert.Contains("--calibration", e1.Message);
        Assert.Contains("line 1: no data for input(s) flags", e1.Message);
        Assert.Contains("input 'flags' element 0 is not Bool", e2.Message);
    }

    [Fact]
    public void Read_NpyFloat64_IsNarrowedToAFloat32Input()
    {
        var input = new TensorInfo("x", TensorElementType.Float, [-1, 2], ["batch", ""]);
        string path = Path.Combine(_folder, "data.npy");
        string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
        header = header.PadRight(64 - 10 - 1) + "\n";
        using (var stream = File.Create(path))
        {
            stream.Write([0x93, .. "NUMPY"u8, 1, 0]);
            stream.Write(BitConverter.GetBytes((ushort)header.Length));
            stream.Write(Encoding.ASCII.GetBytes(header));
            foreach (double v in new[] { 0.5, 1.5, 2.5, 3.5 })
            {
                stream.Write(BitConverter.GetBytes(v));
            }
        }

        IReadOnlyList<Sample> samples = ValidationData.Read(path, [input], maxSamples: 10);

        Assert.Equal(2, samples.Count);
        Assert.Equal(3.5f, BitConverter.ToSingle(samples[1].Inputs["x"].Data, 4));
    }

    [Fact]
    public void Generate_SymbolicDimensionsOtherThanBatch_TakeSizeOne()
    {
        IReadOnlyList<Sample> samples = ValidationData.Generate([s_sequence], count: 4, seed: 1);

        Assert.Equal(4, samples.Count);
        Assert.All(samples, s => Assert.Equal([1L, 3L], s.Inputs["tokens"].Shape));
    }

    [Fact]
    public void Generate_ScalarInput_IsRefused()
    {
        var scalar = new TensorInfo("threshold", TensorElementType.Float, [], []);

        var e = Assert.Throws<OptimizeException>(() => ValidationData.Generate([scalar], 1, 1));

        Assert.Contains("'threshold' is a scalar", e.Message);
    }

    private string Write(string name, string content)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, content);
        return path;
    }
}
