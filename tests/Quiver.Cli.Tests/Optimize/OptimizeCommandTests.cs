using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;

namespace Quiver.Cli.Tests.Optimize;

/// <summary><c>quiver optimize</c> run as a separate process on small models; exit codes, files and report JSON, never timings.</summary>
public sealed class OptimizeCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-optimize-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Int8Dynamic_Classifier_WritesModelAndReportWithAccuracyAndSpeed()
    {
        string model = PathOf("mlp.onnx");
        Mlp(softmax: true, inputs: 64, hidden: 256).Save(model);
        string output = PathOf("mlp_int8.onnx"), report = PathOf("report.json");

        (int exit, string stdout, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic", "--per-channel",
            "--report", report, "--bench-duration", "200ms", "--samples", "64");

        Assert.True(exit == 0, stderr);
        Assert.Contains("Accuracy: 64 samples", stdout);
        JsonNode json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal(1, (int)json["schema"]!);
        Assert.Equal("int8-dynamic", (string?)json["mode"]);
        // 7-bit by default where int8 products saturate (x86 without VNNI), 8-bit elsewhere.
        Assert.Equal(Int8Cpu.ProductsSaturate ? "per-channel symmetric 7-bit" : "per-channel symmetric", (string?)json["options"]!["weights"]);
        Assert.True((bool)json["written"]!);
        Assert.Equal(["gemm_0", "gemm_1"], json["changed_nodes"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(new FileInfo(output).Length, (long)json["output_bytes"]!);
        // 18,944 float weights become int8 bytes; biases stay float: about a quarter of the size.
        Assert.InRange((double)json["size_ratio"]!, 0.2, 0.35);
        JsonNode accuracy = json["accuracy"]!;
        Assert.Equal("generated", (string?)accuracy["source"]);
        Assert.Equal(64, (int)accuracy["samples"]!);
        JsonNode probabilities = accuracy["outputs"]![0]!;
        Assert.Equal("probabilities", (string?)probabilities["name"]);
        // Softmax outputs of random weights: close probabilities move most; 7-bit weights (no VNNI) moved them by 0.107.
        Assert.InRange((double)probabilities["max_abs_diff"]!, 0, 0.2);
        Assert.InRange((double)probabilities["top1_agreement"]!, 0.9, 1);
        Assert.Equal([1, 32], json["speed"]!["levels"]!.AsArray().Select(l => (int)l!["batch_size"]!));
        Assert.All(json["speed"]!["levels"]!.AsArray(), l => Assert.True((long)l!["optimized"]!["runs"]! > 0));
        Assert.Equal(2, OnnxModel.Load(output).Graph.Node.Count(n => n.OpType == "MatMulInteger"));
    }

    [Fact]
    public async Task Fp16_WritesAModelWithAFloat32Interface()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string output = PathOf("mlp_fp16.onnx"), report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--fp16", "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        ModelProto written = OnnxModel.Load(output);
        Assert.Equal((int)TensorElementType.Float, written.Graph.Input[0].Type.TensorType.ElemType);
        Assert.Equal((int)TensorElementType.Float, written.Graph.Output[0].Type.TensorType.ElemType);
        JsonNode json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal("fp16", (string?)json["mode"]);
        Assert.Equal("default", (string?)json["options"]!["float32_ops"]);
        Assert.Equal("Softmax", (string?)json["skipped_nodes"]![0]!["op_type"]);
        Assert.Null(json["speed"]);
    }

    [Fact]
    public async Task Graph_Extended_WritesOnnxRuntimesOptimizedModel()
    {
        string model = SaveMlp("mlp.onnx", softmax: false);
        string output = PathOf("mlp_graph.onnx"), report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--graph", "extended", "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        Assert.Equal("graph-extended", (string?)JsonNode.Parse(File.ReadAllText(report))!["mode"]);
        using var session = InferenceSession.FromFile(output);
        Assert.Equal("logits", session.Outputs[0].Name);
    }

    [Fact]
    public async Task NotOnnx_ExitsOneAndWritesNothing()
    {
        string model = PathOf("notes.onnx");
        File.WriteAllText(model, "these are not the weights you are looking for");
        string output = PathOf("out.onnx");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic");

        Assert.Equal(1, exit);
        Assert.Contains("is not a valid ONNX model", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task NothingQuantizable_WritesTheModelUnchangedWithAWarning()
    {
        string model = PathOf("add.onnx");
        SampleModels.AddConstant(TensorElementType.Float, 1).Save(model);
        string output = PathOf("add_int8.onnx"), report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic", "--report", report);

        Assert.Equal(0, exit);
        Assert.Contains("warning: nothing to optimize", stderr);
        Assert.Equal(File.ReadAllBytes(model), File.ReadAllBytes(output));
        JsonNode json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Empty(json["changed_nodes"]!.AsArray());
        Assert.Null(json["accuracy"]);
        Assert.Contains("unchanged", (string?)json["warnings"]![0]);
    }

    [Fact]
    public async Task ExternalData_ExitsOneNamingTheTensorAndWritesNothing()
    {
        ModelProto proto = Mlp(softmax: false).Build();
        TensorProto w1 = proto.Graph.Initializer.Single(t => t.Name == "w1");
        w1.ClearRawData();
        w1.DataLocation = TensorProto.Types.DataLocation.External;
        w1.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "w1.bin" });
        string model = PathOf("external.onnx");
        OnnxModel.Save(proto, model);
        string output = PathOf("out.onnx");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic");

        Assert.Equal(1, exit);
        Assert.Contains("external data", stderr);
        Assert.Contains("'w1' in 'w1.bin'", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task OutputEqualToInput_ExitsOneAndLeavesTheInputAlone()
    {
        string model = SaveMlp("mlp.onnx", softmax: false);
        byte[] before = File.ReadAllBytes(model);

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", Path.Combine(_folder, ".", "mlp.onnx"), "--int8-dynamic");

        Assert.Equal(1, exit);
        Assert.Contains("is the input model", stderr);
        Assert.Equal(before, File.ReadAllBytes(model));
    }

    [Fact]
    public async Task MaxAbsDiffExceeded_ExitsTwoAndWritesNeitherModelNorReport()
    {
        string model = SaveMlp("mlp.onnx", softmax: false);
        string output = PathOf("out.onnx"), report = PathOf("report.json");

        (int exit, string stdout, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic",
            "--max-abs-diff", "0.000001", "--no-bench", "--report", report);

        Assert.Equal(2, exit);
        Assert.Contains("exceeds --max-abs-diff", stderr);
        Assert.Contains("Nothing was written", stderr);
        Assert.Contains("accuracy limits: exceeded", stdout);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(report));
    }

    [Fact]
    public async Task MaxAccuracyDrop_WithinTheLimit_Writes()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string output = PathOf("out.onnx"), report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic",
            "--max-accuracy-drop", "0.2", "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        JsonNode limits = JsonNode.Parse(File.ReadAllText(report))!["limits"]!;
        Assert.True((bool)limits["passed"]!);
        Assert.Equal(0.2, (double)limits["max_accuracy_drop"]!);
    }

    [Fact]
    public async Task MaxAccuracyDrop_ModelWithoutClassifierOutput_ExitsTwoSayingWhy()
    {
        string model = PathOf("projection.onnx");
        new ModelBuilder("projection")
            .Input("x", TensorElementType.Float, "batch", 4, 8)
            .Initializer("w", Matrix(8, 8, seed: 1))
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", TensorElementType.Float, "batch", 4, 8)
            .Save(model);
        string output = PathOf("out.onnx");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic", "--max-accuracy-drop", "0.01", "--no-bench");

        Assert.Equal(2, exit);
        Assert.Contains("use --max-abs-diff", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Validation_JsonLines_IsComparedSampleBySample()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string validation = PathOf("validation.jsonl");
        var random = new Random(3);
        File.WriteAllLines(validation, Enumerable.Range(0, 5).Select(_ =>
            "{\"input\": [" + string.Join(", ", Enumerable.Range(0, 16).Select(_ => random.NextSingle().ToString(CultureInfo.InvariantCulture))) + "]}"));
        string report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", PathOf("out.onnx"), "--int8-dynamic",
            "--validation", validation, "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        JsonNode accuracy = JsonNode.Parse(File.ReadAllText(report))!["accuracy"]!;
        Assert.Equal(validation, (string?)accuracy["source"]);
        Assert.Equal(5, (int)accuracy["samples"]!);
    }

    [Fact]
    public async Task Validation_Npy_IsRead()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string validation = PathOf("validation.npy");
        WriteNpy(validation, [3, 16], Enumerable.Range(0, 48).Select(i => i / 48f).ToArray());
        string report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", PathOf("out.onnx"), "--int8-dynamic",
            "--validation", validation, "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        Assert.Equal(3, (int)JsonNode.Parse(File.ReadAllText(report))!["accuracy"]!["samples"]!);
    }

    [Theory]
    [InlineData("validation.jsonl", "{\"pixels\": [1, 2]}", "has no input 'pixels'; its inputs are input")]
    [InlineData("validation.jsonl", "{\"input\": [1, 2, 3]}", "has sample shape [3], but the model expects [16]")]
    [InlineData("validation.jsonl", "{\"input\": [[1, 2], [3]]}", "ragged")]
    [InlineData("validation.jsonl", "{\"input\": \"sixteen floats\"}", "sample shape []")]
    [InlineData("validation.jsonl", "not json", "not JSON")]
    [InlineData("validation.npy", "npy [2, 15]", "array shape [2,15] does not match input 'input'")]
    [InlineData("validation.npy", "npy int64", "the array is Int64 ('<i8'), but input 'input' is Float")]
    public async Task Validation_NotMatchingTheInputs_ExitsOneNamingTheProblem(string file, string content, string expected)
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string validation = PathOf(file), output = PathOf("out.onnx");
        if (content == "npy [2, 15]")
        {
            WriteNpy(validation, [2, 15], new float[30]);
        }
        else if (content == "npy int64")
        {
            WriteNpy(validation, [2, 16], new float[64], descr: "<i8");
        }
        else
        {
            File.WriteAllText(validation, content + "\n");
        }

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-dynamic", "--validation", validation, "--no-bench");

        Assert.Equal(1, exit);
        Assert.Contains(expected, stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Int8Static_CalibratedOnJsonLines_WritesAQdqModelComparedOnTheCalibrationData()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string calibration = PathOf("calibration.jsonl"), output = PathOf("out.onnx"), report = PathOf("report.json");
        WriteJsonLines(calibration, samples: 40, seed: 5);

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-static", "--calibration", calibration,
            "--calibration-method", "percentile", "--per-channel", "--no-bench", "--report", report);

        Assert.True(exit == 0, stderr);
        JsonNode json = JsonNode.Parse(File.ReadAllText(report))!;
        Assert.Equal("int8-static", (string?)json["mode"]);
        Assert.Equal("percentile 99.99", (string?)json["options"]!["calibration"]);
        Assert.Equal($"{calibration} (the calibration data)", (string?)json["accuracy"]!["source"]);
        Assert.Equal(40, (int)json["accuracy"]!["samples"]!);
        Assert.Equal(2, OnnxModel.Load(output).Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
    }

    [Fact]
    public async Task Int8Static_CalibrationNotMatchingTheInputs_ExitsOneAndWritesNothing()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);
        string calibration = PathOf("calibration.jsonl"), output = PathOf("out.onnx");
        File.WriteAllText(calibration, "{\"input\": [1, 2, 3, 4]}\n");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", output, "--int8-static", "--calibration", calibration);

        Assert.Equal(1, exit);
        Assert.Contains($"--calibration '{calibration}' line 1: input 'input' has sample shape [4], but the model expects [16]", stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Int8Static_WithoutCalibration_ExitsOneSayingWhatIsNeeded()
    {
        string model = SaveMlp("mlp.onnx", softmax: true);

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", PathOf("out.onnx"), "--int8-static", "--calibration-method", "median");

        Assert.Equal(1, exit);
        Assert.Contains("--int8-static needs --calibration FILE", stderr);
        Assert.Contains("--calibration-method 'median' is not a method", stderr);
    }

    [Fact]
    public async Task BadArguments_AreAllListedAtOnce()
    {
        string model = SaveMlp("mlp.onnx", softmax: false);

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", PathOf("out.onnx"), "--int8-dynamic", "--fp16",
            "--symmetric", "--asymmetric", "--reduce-range", "--full-range", "--exclude-ops", "Conv", "--graph", "fastest", "--bench-batch", "0");

        Assert.Equal(1, exit);
        Assert.Contains("choose exactly one of --int8-dynamic, --int8-static, --fp16 and --graph", stderr);
        Assert.Contains("--symmetric and --asymmetric cannot be used together", stderr);
        Assert.Contains("--reduce-range and --full-range cannot be used together", stderr);
        Assert.Contains("--exclude-ops 'Conv' is not an op type", stderr);
        Assert.Contains("--graph 'fastest' is not a level", stderr);
        Assert.Contains("--bench-batch", stderr);
    }

    [Theory]
    [InlineData("--full-range", "per-tensor symmetric")]
    [InlineData("--reduce-range", "per-tensor symmetric 7-bit")]
    public async Task WeightRange_ChosenByFlag_WhateverTheCpu(string flag, string weights)
    {
        string model = SaveMlp("mlp.onnx", softmax: false);
        string report = PathOf("report.json");

        (int exit, _, string stderr) = await RunAsync("optimize", model, "-o", PathOf("out.onnx"), "--int8-dynamic", flag,
            "--report", report, "--no-bench", "--samples", "8");

        Assert.True(exit == 0, stderr);
        Assert.Equal(weights, (string?)JsonNode.Parse(File.ReadAllText(report))!["options"]!["weights"]);
    }

    [Fact]
    public async Task MissingModel_ExitsOne()
    {
        (int exit, _, string stderr) = await RunAsync("optimize", PathOf("absent.onnx"), "-o", PathOf("out.onnx"), "--int8-dynamic");

        Assert.Equal(1, exit);
        Assert.Contains("does not exist", stderr);
    }

    private static void WriteJsonLines(string path, int samples, int seed)
    {
        var random = new Random(seed);
        File.WriteAllLines(path, Enumerable.Range(0, samples).Select(_ =>
            "{\"input\": [" + string.Join(", ", Enumerable.Range(0, 16).Select(_ => random.NextSingle().ToString(CultureInfo.InvariantCulture))) + "]}"));
    }

    private string PathOf(string name) => Path.Combine(_folder, name);

    private string SaveMlp(string name, bool softmax)
    {
        string path = PathOf(name);
        Mlp(softmax).Save(path);
        return path;
    }

    private static ModelBuilder Mlp(bool softmax, int inputs = 16, int hidden = 32) =>
        SampleModels.Mlp(Matrix(inputs, hidden, seed: 1), new float[hidden], Matrix(hidden, 10, seed: 2), new float[10], softmax);

    private static float[,] Matrix(int rows, int columns, int seed)
    {
        var random = new Random(seed);
        var matrix = new float[rows, columns];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                matrix[r, c] = (random.NextSingle() * 2) - 1;
            }
        }

        return matrix;
    }

    // NumPy format version 1.0: magic, version, header length, a Python dict literal padded to 64 bytes, the data.
    private static void WriteNpy(string path, long[] shape, float[] values, string descr = "<f4")
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({string.Join(", ", shape)},), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        using var stream = File.Create(path);
        stream.Write([0x93, .. "NUMPY"u8, 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        foreach (float v in values)
        {
            stream.Write(descr == "<i8" ? BitConverter.GetBytes((long)v) : BitConverter.GetBytes(v));
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        using QuiverProcess quiver = QuiverProcess.Start(args);
        int exit = await quiver.WaitForExitAsync(s_timeout);
        return (exit, quiver.Output, quiver.Error);
    }
}
