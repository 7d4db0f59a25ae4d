using System.Text.Json;
using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

/// <summary>Rows that cannot be used go to the error file with their line and reason; none is silently lost.</summary>
public sealed class BatchRowErrorTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    private List<JsonElement> Errors(BatchResult result) =>
        File.ReadLines(result.ErrorsPath).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public void Run_BadCsvRows_GoToTheErrorFileWithLineAndReason()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv",
            "f0,f1,f2,f3\n" +
            "1,2,3,4\n" +         // row 0, line 2
            "1,2,abc,4\n" +       // row 1: non-numeric
            "1,2,3\n" +           // row 2: ragged (short)
            "1,2,3,4,5\n" +       // row 3: ragged (long)
            "\n" +                // blank: not a row
            "1,,3,4\n" +          // row 4, line 7: empty
            "5,6,7,8\n" +         // row 5
            "1,\"2\"x,3,4\n" +    // row 6: text after quote
            "1,2,3,\"4\n");       // row 7: quote never closed

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), BatchSize = 3 });

        Assert.Equal(8, result.RowsProcessed);
        Assert.Equal(2, result.RowsWritten);
        Assert.Equal(6, result.RowsFailed);
        Assert.Equal([0L, 5L], BatchFixture.ReadJsonLines(_files.Path("out.jsonl")).Select(r => r.Row));
        List<JsonElement> errors = Errors(result);
        Assert.Equal([1L, 2L, 3L, 4L, 6L, 7L], errors.Select(e => e.GetProperty("row").GetInt64()));
        Assert.Equal([3L, 4L, 5L, 7L, 9L, 10L], errors.Select(e => e.GetProperty("line").GetInt64()));
        string[] reasons = errors.Select(e => e.GetProperty("reason").GetString()!).ToArray();
        Assert.Equal("column 'f2': 'abc' is not a number (input 'input' is FP32)", reasons[0]);
        Assert.Equal("ragged row: 3 fields, the header has 4", reasons[1]);
        Assert.Equal("ragged row: 5 fields, the header has 4", reasons[2]);
        Assert.Equal("column 'f1' is empty", reasons[3]);
        Assert.Contains("after a closing quote", reasons[4]);
        Assert.Equal("a quoted field is still open at the end of the file", reasons[5]);
    }

    [Fact]
    public void Run_BadJsonLines_GoToTheErrorFileWithLineAndReason()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.jsonl",
            "{\"input\":[1,2,3,4]}\n" +
            "{\"input\":[1,2,3]}\n" +
            "{\"input\":[1,2,\"3\",4]}\n" +
            "{\"other\":1}\n" +
            "not json\n" +
            "{\"input\":[1,2,3,4]} {}\n" +
            "{\"input\":[1,null,3,4]}\n");

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl") });

        Assert.Equal(1, result.RowsWritten);
        string[] reasons = Errors(result).Select(e => e.GetProperty("reason").GetString()!).ToArray();
        Assert.Equal(6, reasons.Length);
        Assert.Equal("column 'input' has 3 values, input 'input' takes 4", reasons[0]);
        Assert.Equal("column 'input': the string \"3\" is not a number (input 'input' is FP32)", reasons[1]);
        Assert.Equal("missing column 'input'", reasons[2]);
        Assert.StartsWith("not valid JSON", reasons[3]);
        Assert.True(reasons[4].StartsWith("not valid JSON", StringComparison.Ordinal) || reasons[4] == "more than one JSON value on the line", reasons[4]);
        Assert.Contains("null", reasons[5]);
    }

    [Fact]
    public void Run_TooLongRecord_IsARowErrorAndTheNextRowsStillRun()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv", "f0,f1,f2,f3\n1,2,3,4\n" + new string('9', 300) + ",2,3,4\n5,6,7,8\n");

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), MaxRecordBytes = 100 });

        Assert.Equal(2, result.RowsWritten);
        JsonElement error = Assert.Single(Errors(result));
        Assert.Equal(1, error.GetProperty("row").GetInt64());
        Assert.Equal("the row is longer than 100 bytes", error.GetProperty("reason").GetString());
    }

    [Fact]
    public void Run_MoreErrorsThanMaxErrors_AbortsNamingTheCount()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv", "f0,f1,f2,f3\n" + string.Concat(Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? "1,2,3,4\n" : "x,2,3,4\n")));

        var e = Assert.Throws<BatchException>(() => BatchFixture.Run(model,
            new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), MaxErrors = 3, BatchSize = 4, ChunkRows = 4 }));

        Assert.Equal(BatchErrorKind.TooManyErrors, e.Kind);
        Assert.StartsWith("4 rows failed, more than --max-errors 3 allows", e.Message);
        Assert.True(File.ReadLines(_files.Path("out.jsonl.errors.jsonl")).Count() >= 4);
    }

    [Fact]
    public void Run_ErrorsWithinMaxErrors_Finish()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv", "f0,f1,f2,f3\n1,2,3,4\nx,2,3,4\n");

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), MaxErrors = 1 });

        Assert.Equal(1, result.RowsFailed);
    }

    [Fact]
    public void Run_BadCellOfASensitiveInput_IsShownInTheErrorFileOnlyAsItsPseudonym()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.csv", "f0,f1,f2,f3\n1,2,SECRET-4711,4\n1,2,SECRET-4711,4\n");
        var pseudonymizer = new Quiver.Core.Security.Pseudonymizer(new byte[32]);
        var privacy = new Quiver.Core.Security.SensitiveValues(["input"], [], pseudonymizer);

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), Privacy = privacy });

        Assert.Equal(2, result.RowsFailed);
        string file = File.ReadAllText(result.ErrorsPath);
        Assert.DoesNotContain("SECRET-4711", file);
        string expected = $"column 'f2': the value {pseudonymizer.Pseudonym("SECRET-4711")} is not a number (input 'input' is FP32)";
        Assert.All(Errors(result), e => Assert.Equal(expected, e.GetProperty("reason").GetString())); // equal values, equal pseudonyms
    }

    [Fact]
    public void Run_BrokenJsonLine_OfAModelWithSensitiveInputs_IsReportedWithoutQuotingTheLine()
    {
        string model = _files.Mlp();
        string input = _files.Text("in.jsonl", "{\"input\":[1,2,3,4]}\n{\"input\":[1,2,3,S]}\n");
        var privacy = new Quiver.Core.Security.SensitiveValues(["input"], [], new Quiver.Core.Security.Pseudonymizer(new byte[32]));

        BatchResult result = BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path("out.jsonl"), Privacy = privacy });

        Assert.Equal("not valid JSON at byte 16 of the line", Errors(result).Single().GetProperty("reason").GetString());
    }
}
