using Quiver.Core.Batch;
using Quiver.Onnx.Model;
using Quiver.Onnx;

namespace Quiver.Core.Tests.Batch;

/// <summary>Inputs, mappings and outputs a job refuses before it reads a row, each with a reason a person can act on.</summary>
public sealed class BatchInputErrorTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    private BatchException Refused(BatchOptions options, string? model = null) =>
        Assert.Throws<BatchException>(() => BatchFixture.Run(model ?? _files.Mlp(), options));

    private BatchOptions To(string input) => new() { InputPath = input, OutputPath = _files.Path("out.jsonl") };

    [Fact]
    public void Run_MissingInput_IsRefused()
    {
        BatchException e = Refused(To(_files.Path("nope.csv")));

        Assert.Equal(BatchErrorKind.Input, e.Kind);
        Assert.Contains("does not exist", e.Message);
        Assert.False(File.Exists(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_InputIsADirectory_IsRefused()
    {
        string dir = _files.Path("dir.csv");
        Directory.CreateDirectory(dir);

        Assert.Contains("is a directory", Refused(To(dir)).Message);
    }

    [SkippableFact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Run_UnreadableInput_IsRefused()
    {
        Skip.If(OperatingSystem.IsWindows(), "Unix file modes");
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(2));
        File.SetUnixFileMode(input, UnixFileMode.None);
        Skip.If(CanRead(input), "running as root: file permissions do not stop reading");

        BatchException e = Refused(To(input));

        Assert.Equal(BatchErrorKind.Input, e.Kind);
        Assert.Contains("cannot read input", e.Message);
    }

    [SkippableFact]
    public void Run_InputThatCannotBeOpened_IsRefusedWithTheReason()
    {
        // Even root cannot open() a Unix socket's directory entry (ENXIO): an unreadable input whoever runs the test.
        Skip.If(OperatingSystem.IsWindows(), "Unix domain socket files");
        string input = _files.Path("socket.csv");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(input));

        BatchException e = Refused(To(input));

        Assert.Equal(BatchErrorKind.Input, e.Kind);
        Assert.StartsWith($"cannot read input '{input}': ", e.Message);
        Assert.False(File.Exists(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_InputPathUnderAFile_IsRefusedAsMissing()
    {
        string file = _files.Csv("in.csv", BatchFixture.RandomRows(2));

        BatchException e = Refused(To(Path.Combine(file, "rows.csv")));

        Assert.Equal(BatchErrorKind.Input, e.Kind);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Run_WrongDelimiter_SuggestsTheOneInTheHeader()
    {
        string input = _files.Text("in.csv", "f0;f1;f2;f3\n1;2;3;4\n");

        BatchException e = Refused(To(input));

        Assert.Equal(BatchErrorKind.Input, e.Kind);
        Assert.Contains("is the delimiter ';'? Pass --delimiter ';'", e.Message);
    }

    [Fact]
    public void Run_RightDelimiterGiven_Reads()
    {
        string input = _files.Text("in.csv", "f0;f1;f2;f3\n1;2;3;4\n");

        BatchResult result = BatchFixture.Run(_files.Mlp(), To(input) with { Delimiter = ';' });

        Assert.Equal(1, result.RowsWritten);
    }

    [Fact]
    public void Run_NoHeader_SaysTheFirstLineLooksLikeData()
    {
        string input = _files.Text("in.csv", "1,2,3\n4,5,6\n");

        BatchException e = Refused(To(input));

        Assert.Contains("looks like data, not a header", e.Message);
    }

    [Fact]
    public void Run_WrongColumnCount_NamesColumnsAndInput()
    {
        string input = _files.Text("in.csv", "a,b,c\n1,2,3\n");

        BatchException e = Refused(To(input));

        Assert.Equal(
            "the input's 3 column(s) ('a', 'b', 'c') do not fit the model's input(s) 'input' (4 values per row): " +
            "give 4 feature columns, name a column after the input, or pass --map input=COL1,COL2,…", e.Message);
    }

    [Fact]
    public void Run_EmptyCsv_NeedsAHeader()
    {
        Assert.Contains("is empty", Refused(To(_files.Text("in.csv", ""))).Message);
    }

    [Fact]
    public void Run_MappingNamesUnknownInputAndColumn_ListsEveryProblem()
    {
        string input = _files.Text("in.csv", "a,b,c,d\n1,2,3,4\n");
        var mapping = new Dictionary<string, string[]> { ["features"] = ["a", "b", "c", "d"], ["input"] = ["a", "b", "c", "zz"] };

        BatchException e = Refused(To(input) with { Mapping = mapping });

        Assert.Equal(BatchErrorKind.Usage, e.Kind);
        Assert.Contains("--map names input 'features', which the model does not have; its inputs are: input.", e.Message);
        Assert.Contains("--map input: the input has no column 'zz'; its columns are: 'a', 'b', 'c', 'd'.", e.Message);
    }

    [Fact]
    public void Run_MappingWithTooFewColumns_IsRefused()
    {
        string input = _files.Text("in.csv", "a,b,c,d\n1,2,3,4\n");

        BatchException e = Refused(To(input) with { Mapping = new Dictionary<string, string[]> { ["input"] = ["a", "b"] } });

        Assert.Contains("the input takes 4 values per row, the mapping names 2 column(s)", e.Message);
    }

    [Fact]
    public void Run_OutputExists_IsRefusedWithoutOverwrite()
    {
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(3));
        File.WriteAllText(_files.Path("out.jsonl"), "keep me");

        BatchException e = Refused(To(input));

        Assert.Equal(BatchErrorKind.Output, e.Kind);
        Assert.Contains("exists; pass --overwrite to replace it", e.Message);
        Assert.Equal("keep me", File.ReadAllText(_files.Path("out.jsonl")));
    }

    [Fact]
    public void Run_OutputExistsWithOverwrite_IsReplaced()
    {
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(3));
        File.WriteAllText(_files.Path("out.jsonl"), "old");

        BatchFixture.Run(_files.Mlp(), To(input) with { Overwrite = true });

        Assert.Equal(3, File.ReadAllLines(_files.Path("out.jsonl")).Length);
    }

    [Fact]
    public void Run_NpyOfAnotherDtype_IsRefused()
    {
        string path = _files.Npy("in.npy", BatchFixture.RandomRows(2));
        byte[] bytes = File.ReadAllBytes(path);
        int at = System.Text.Encoding.Latin1.GetString(bytes).IndexOf("<f4", StringComparison.Ordinal);
        bytes[at + 2] = (byte)'8';
        File.WriteAllBytes(path, bytes);

        Assert.Contains("little-endian float32", Refused(To(path)).Message);
    }

    [Fact]
    public void Run_ModelWithoutBatchDimension_IsRefused()
    {
        string model = _files.Path("fixed.onnx");
        SampleModels.Identity(TensorElementType.Float, 2, 4).Save(model);

        BatchException e = Refused(To(_files.Csv("in.csv", BatchFixture.RandomRows(1))), model);

        Assert.Equal(BatchErrorKind.Model, e.Kind);
        Assert.Contains("needs an open leading (batch) dimension", e.Message);
    }

    [Fact]
    public void Options_EveryProblemIsListedAtOnce()
    {
        var options = new BatchOptions { InputPath = "in.xyz", OutputPath = "out.jsonl", BatchSize = 0, ParseThreads = 0, MaxErrors = -1 };

        BatchException e = Assert.Throws<BatchException>(options.Validate);

        Assert.Equal(4, e.Message.Split(Environment.NewLine).Length);
    }

    [Fact]
    public void Locate_ModelRepository_FindsLatestOrNamedVersion()
    {
        string repository = _files.Path("repo");
        foreach (int version in new[] { 1, 3 })
        {
            Directory.CreateDirectory(Path.Combine(repository, "mlp", version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            File.Copy(_files.Mlp(), Path.Combine(repository, "mlp", version.ToString(System.Globalization.CultureInfo.InvariantCulture), "model.onnx"));
        }

        Assert.Equal("mlp:3", BatchModel.Locate("mlp", repository).Display);
        Assert.Equal("mlp:1", BatchModel.Locate("mlp:1", repository).Display);
        Assert.Contains("has no version 2; its versions are: 1, 3", Assert.Throws<BatchException>(() => BatchModel.Locate("mlp:2", repository)).Message);
        Assert.Contains("has no model 'other'; it has: mlp", Assert.Throws<BatchException>(() => BatchModel.Locate("other", repository)).Message);
        Assert.Contains("aliases live in a registry", Assert.Throws<BatchException>(() => BatchModel.Locate("mlp@production", repository)).Message);
    }

    private static bool CanRead(string path)
    {
        try
        {
            File.OpenRead(path).Dispose();
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
