using System.Text.Json;
using Quiver.Core.Batch;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Batch;

/// <summary>A batch job's results against the same rows run one at a time through ONNX Runtime.</summary>
public sealed class BatchRunnerTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData(1, 1)]
    [InlineData(64, 1)]
    [InlineData(7, 2)]
    public void Run_Csv_MatchesPerRowInference(int batchSize, int threads)
    {
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(300);
        string input = _files.Csv("in.csv", rows);

        BatchResult result = BatchFixture.Run(model, new BatchOptions
        {
            InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = batchSize, ParseThreads = threads,
        });

        Assert.Equal(300, result.RowsProcessed);
        Assert.Equal(300, result.RowsWritten);
        Assert.Equal(0, result.RowsFailed);
        AssertMatches(BatchFixture.PerRow(model, rows), BatchFixture.ReadJsonLines(_files.Path("out.jsonl")));
        Assert.Equal("", File.ReadAllText(result.ErrorsPath));
    }

    [Fact]
    public void Run_Npy_MatchesPerRowInference()
    {
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(130);

        BatchResult result = BatchFixture.Run(model, new BatchOptions
        {
            InputPath = _files.Npy("in.npy", rows), OutputPath = _files.Path("out.jsonl"), BatchSize = 32,
        });

        Assert.Equal(130, result.RowsWritten);
        AssertMatches(BatchFixture.PerRow(model, rows), BatchFixture.ReadJsonLines(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_ChunksOfSeveralBatches_WithFailedRowsBetween_MatchPerRowInference()
    {
        // Chunks of 49 rows run as 7 batches of 7; bad rows fall inside chunks and at a chunk's edge.
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(200);
        int[] bad = [0, 10, 48, 49, 130, 199];
        var lines = rows.Select((r, i) => bad.Contains(i) ? "1,2,x,4" : string.Join(",", r.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
        string input = _files.Text("in.csv", "f0,f1,f2,f3\n" + string.Join("\n", lines) + "\n");

        BatchResult result = BatchFixture.Run(model, new BatchOptions
        {
            InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 7, ChunkRows = 50,
        });

        Assert.Equal(200 - bad.Length, result.RowsWritten);
        Assert.Equal(bad.Length, result.RowsFailed);
        List<(long Row, float[] Values)> written = BatchFixture.ReadJsonLines(_files.Path("out.jsonl"));
        long[] good = Enumerable.Range(0, 200).Where(i => !bad.Contains(i)).Select(i => (long)i).ToArray();
        Assert.Equal(good, written.Select(w => w.Row));
        float[][] expected = BatchFixture.PerRow(model, good.Select(i => rows[i]).ToArray());
        for (int i = 0; i < good.Length; i++)
        {
            Assert.Equal(expected[i], written[i].Values, new FloatTolerance());
        }
    }

    [Theory]
    [InlineData("0/1")]
    [InlineData("1/2")]
    public void Run_NpyShorterThanItsHeaderSays_WritesTheWholeRows_AndReportsTheCutOne(string shard)
    {
        // 1 shard reads rows straight into the tensor, 2 shards row by row: both must stop at the cut alike.
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(10);
        string input = _files.Npy("in.npy", rows);
        using (var file = new FileStream(input, FileMode.Open))
        {
            file.SetLength(file.Length - 2 * 4 * 4 - 6); // rows 8 and 9 gone, 6 bytes of row 7 with them
        }

        ShardSpec spec = ShardSpec.Parse(shard);
        BatchResult result = BatchFixture.Run(model, new BatchOptions
        {
            InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 4, Shard = spec,
        });

        long[] owned = Enumerable.Range(0, 8).Where(i => spec.Owns(i)).Select(i => (long)i).ToArray();
        List<(long Row, float[] Values)> written = BatchFixture.ReadJsonLines(_files.Path("out.jsonl"));
        Assert.Equal(owned[..^1], written.Select(w => w.Row));
        AssertMatches(BatchFixture.PerRow(model, rows[..7]).Where((_, i) => spec.Owns(i)).ToArray(),
            written.Select((w, i) => ((long)i, w.Values)).ToList());
        JsonElement error = JsonDocument.Parse(File.ReadAllLines(result.ErrorsPath).Single()).RootElement;
        Assert.Equal(7, error.GetProperty("row").GetInt64());
        Assert.Equal("the file ends inside this row (the .npy header promises more rows)", error.GetProperty("reason").GetString());
    }

    [Fact]
    public void Run_JsonLinesObjectsAndArrays_MatchPerRowInference()
    {
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(50);
        string objects = _files.Text("objects.jsonl", string.Concat(rows.Select(r =>
            JsonSerializer.Serialize(new Dictionary<string, object> { ["id"] = "x", ["f0"] = r[0], ["f1"] = r[1], ["f2"] = r[2], ["f3"] = r[3] }) + "\n")));
        string arrays = _files.Text("arrays.jsonl", string.Concat(rows.Select(r => JsonSerializer.Serialize(r) + "\n")));
        string named = _files.Text("named.jsonl", string.Concat(rows.Select(r => JsonSerializer.Serialize(new { input = r }) + "\n")));
        float[][] expected = BatchFixture.PerRow(model, rows);

        BatchFixture.Run(model, new BatchOptions
        {
            InputPath = objects, OutputPath = _files.Path("objects.out.jsonl"),
            Mapping = new Dictionary<string, string[]> { ["input"] = ["f0", "f1", "f2", "f3"] },
        });
        BatchFixture.Run(model, new BatchOptions { InputPath = arrays, OutputPath = _files.Path("arrays.out.jsonl") });
        BatchFixture.Run(model, new BatchOptions { InputPath = named, OutputPath = _files.Path("named.out.jsonl") });

        AssertMatches(expected, BatchFixture.ReadJsonLines(_files.Path("objects.out.jsonl")));
        AssertMatches(expected, BatchFixture.ReadJsonLines(_files.Path("arrays.out.jsonl")));
        AssertMatches(expected, BatchFixture.ReadJsonLines(_files.Path("named.out.jsonl")));
    }

    [Fact]
    public void Run_MultipleInputsByName_WritesEveryOutputPerRow()
    {
        string model = _files.Path("multi.onnx");
        SampleModels.MultiInputOutput().Save(model);
        string input = _files.Text("in.jsonl",
            "{\"a\":[1,2,3],\"b\":[10,20,30],\"flag\":[true,false,true]}\n" +
            "{\"flag\":[false,false,false],\"b\":[4,5,6],\"a\":[-1,-2,-3]}\n");

        BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl") });

        Assert.Equal(
            [
                "{\"row\":0,\"sum\":[11,22,33],\"product\":[10,40,90],\"selected\":[1,20,3],\"any_true\":[true,false,true]}",
                "{\"row\":1,\"sum\":[3,3,3],\"product\":[-4,-10,-18],\"selected\":[4,5,6],\"any_true\":[false,false,false]}",
            ],
            File.ReadAllLines(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_CsvOutput_NamesColumnsAfterOutputsAndMatchesPerRowInference()
    {
        string model = _files.Mlp();
        float[][] rows = BatchFixture.RandomRows(20);

        BatchFixture.Run(model, new BatchOptions { InputPath = _files.Csv("in.csv", rows), OutputPath = _files.Path("out.csv"), BatchSize = 8 });

        string[] lines = File.ReadAllLines(_files.Path("out.csv"));
        Assert.Equal("row,probabilities_0,probabilities_1,probabilities_2", lines[0]);
        float[][] expected = BatchFixture.PerRow(model, rows);
        for (int i = 0; i < rows.Length; i++)
        {
            string[] cells = lines[i + 1].Split(',');
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), cells[0]);
            Assert.Equal(expected[i], cells[1..].Select(c => float.Parse(c, System.Globalization.CultureInfo.InvariantCulture)).ToArray(), new FloatTolerance());
        }
    }

    [Fact]
    public void Run_QuotedCsvFieldsAndCrLf_AreParsed()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv", "\"f,0\",f1,f2,f3\r\n\"1.5\",2,3,4\r\n\r\n-1,\"2\",3,\"4\"\r\n");

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl") });

        Assert.Equal(2, result.RowsWritten);
        AssertMatches(BatchFixture.PerRow(model, [[1.5f, 2, 3, 4], [-1, 2, 3, 4]]), BatchFixture.ReadJsonLines(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_OutputInAFolderThatDoesNotExist_CreatesIt()
    {
        string output = Path.Combine(_files.Directory, "new", "folder", "out.jsonl");

        BatchFixture.Run(_files.Mlp(), new BatchOptions { InputPath = _files.Csv("in.csv", BatchFixture.RandomRows(3)), OutputPath = output });

        Assert.Equal(3, File.ReadAllLines(output).Length);
    }

    [Fact]
    public void Run_ReportsProgressUpToTheWholeFile()
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(100));
        var reports = new List<BatchProgress>();

        BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 10, ChunkRows = 10 }, reports.Add);

        Assert.Equal(new FileInfo(input).Length, reports[^1].BytesDone);
        Assert.Equal(100, reports[^1].RowsProcessed);
        Assert.True(reports.Count >= 10);
    }

    internal static void AssertMatches(float[][] expected, List<(long Row, float[] Values)> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(i, actual[i].Row);
            Assert.Equal(expected[i], actual[i].Values, new FloatTolerance());
        }
    }

    /// <summary>Batched and single-row GEMMs may round differently in the last bits.</summary>
    internal sealed class FloatTolerance : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= 1e-6f + 1e-5f * Math.Abs(y);

        public int GetHashCode(float obj) => 0;
    }
}
