using Quiver.Core.Models;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Models;

/// <summary>config.json's warm-up sample, parsed and then run by the real ONNX Runtime when a version loads.</summary>
public sealed class WarmupSampleTests
{
    // Reshapes its input to [2, -1]: an input of one element (zeros with dynamic dimensions 1) cannot be, four can.
    private static byte[] PairsModel() =>
        new ModelBuilder("pairs")
            .Input("input", TensorElementType.Float, "n")
            .Initializer("shape", new long[] { 2, -1 }, 2)
            .Node("Reshape", ["input", "shape"], ["output"])
            .Output("output", TensorElementType.Float, 2, "half")
            .ToBytes();

    private static byte[] Adder() => SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 2).ToBytes();

    private static ServedModel Load(byte[] model, string configJson) =>
        ServedModel.Load("m", 1, model, ModelConfig.Parse(configJson), new Dictionary<string, string[]>(), OnnxRuntime.Instance);

    [Fact]
    public void Load_ModelZerosCannotWarm_FailsOnZeros_AndLoadsWithTheConfiguredSample()
    {
        var zeros = Assert.Throws<ModelConfigException>(() => Load(PairsModel(), """{"warmup": true}"""));
        Assert.Contains("warm-up run (zeros, dynamic dimensions 1) failed", zeros.Message);

        using ServedModel loaded = Load(PairsModel(), """{"warmup": {"inputs": {"input": [1, 2, 3, 4]}}}""");
        Assert.Equal("input", loaded.Config.WarmupSample!.Inputs.Single().Name);
        Assert.Equal([4L], loaded.Config.WarmupSample.Inputs.Single().Shape);
    }

    [Fact]
    public void Load_WarmupFalse_RunsNothing_SoEvenAModelZerosBreakLoads()
    {
        using ServedModel loaded = Load(PairsModel(), """{"warmup": false}""");
        Assert.False(loaded.Config.Warmup);
        Assert.Null(loaded.Config.WarmupSample);
    }

    [Fact]
    public void Load_SampleTheModelCannotRun_FailsNamingTheSample()
    {
        var error = Assert.Throws<ModelConfigException>(() => Load(PairsModel(), """{"warmup": {"inputs": {"input": [1, 2, 3]}}}"""));
        Assert.Contains("warm-up run of the sample in config.json's \"warmup\" failed", error.Message);
    }

    [Fact]
    public void Parse_NestedArrays_GiveTheShapeAndTheValuesInRowMajorOrder()
    {
        WarmupSample sample = ModelConfig.Parse("""{"warmup": {"inputs": {"input": [[1, 2, 3], [4, 5, 6]]}}}""").WarmupSample!;

        WarmupInput input = sample.Inputs.Single();
        Assert.Equal([2L, 3L], input.Shape);
        Assert.Equal([1.0, 2, 3, 4, 5, 6], input.Values.Select(v => v.GetDouble()));
    }

    [Theory]
    [InlineData("""{"warmup": "yes"}""", "'warmup' must be true, false or a sample")]
    [InlineData("""{"warmup": {}}""", "'warmup.inputs' must map each model input")]
    [InlineData("""{"warmup": {"inputs": {"input": [1]}, "runs": 3}}""", "'warmup' knows only 'inputs'")]
    [InlineData("""{"warmup": {"inputs": {"input": 1}}}""", "'warmup.inputs.input' must be a (nested) array")]
    [InlineData("""{"warmup": {"inputs": {"input": [[1, 2], [3]]}}}""", "'warmup.inputs.input' is not rectangular: arrays at depth 2 have 2 and 1 elements")]
    [InlineData("""{"warmup": {"inputs": {"input": [[1, 2], 3]}}}""", "'warmup.inputs.input' is not rectangular: it mixes arrays and values")]
    [InlineData("""{"warmup": {"inputs": {"input": [1, [2, 3]]}}}""", "'warmup.inputs.input' is not rectangular: it mixes arrays and values")]
    public void Parse_MalformedSample_IsAClearConfigError(string json, string expected)
    {
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json));
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData("""{"other": [[1, 2]]}""", "'warmup.inputs.other' names no input of the model (its inputs: input Float [-1, 2])")]
    [InlineData("""{"other": [[1, 2]]}""", "'warmup.inputs' has no value for the model's input 'input' (Float [-1, 2])")]
    [InlineData("""{"input": [1, 2]}""", "'warmup.inputs.input' has shape [2], but the model's input 'input' is [-1, 2]")]
    [InlineData("""{"input": [[1, 2, 3]]}""", "'warmup.inputs.input' has shape [1, 3], but the model's input 'input' is [-1, 2]")]
    [InlineData("""{"input": [[1, "two"]]}""", "'warmup.inputs.input': element 1 is \"two\", which is not a Float value")]
    [InlineData("""{"input": [[1, true]]}""", "'warmup.inputs.input': element 1 is true, which is not a Float value")]
    public void Load_SampleNotFittingTheSignature_FailsNamingWhatIsWrongAndWhatIsExpected(string inputs, string expected)
    {
        var error = Assert.Throws<ModelConfigException>(() => Load(Adder(), """{"warmup": {"inputs": """ + inputs + "}}"));
        Assert.Contains("the warm-up sample does not fit the model", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Theory]
    [InlineData(TensorElementType.Int64, "[[1, 2.5]]", "element 1 is 2.5, which is not a Int64 value")]
    [InlineData(TensorElementType.UInt8, "[[1, 300]]", "element 1 is 300, which is not a UInt8 value")]
    [InlineData(TensorElementType.Int32, "[[1, 7]]", null)]
    [InlineData(TensorElementType.Double, "[[1, 0.25]]", null)]
    public void Load_SampleValues_AreCheckedAgainstTheInputType(TensorElementType type, string values, string? expected)
    {
        byte[] model = SampleModels.AddConstant(type, 1, "batch", 2).ToBytes();
        string config = """{"warmup": {"inputs": {"input": """ + values + "}}}";
        if (expected is null)
        {
            using ServedModel loaded = Load(model, config);
            Assert.NotNull(loaded.Config.WarmupSample);
            return;
        }

        var error = Assert.Throws<ModelConfigException>(() => Load(model, config));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Load_BoolAndStringSamples_Run()
    {
        using ServedModel strings = Load(SampleModels.StringIdentity().ToBytes(), """{"warmup": {"inputs": {"text": ["hello", "world"]}}}""");
        using ServedModel mixed = Load(SampleModels.MultiInputOutput().ToBytes(),
            """{"warmup": {"inputs": {"a": [[1, 2, 3]], "b": [[4, 5, 6]], "flag": [[true, false, true]]}}}""");
        Assert.Equal(3, mixed.Config.WarmupSample!.Inputs.Count);
        var error = Assert.Throws<ModelConfigException>(() => Load(SampleModels.StringIdentity().ToBytes(), """{"warmup": {"inputs": {"text": [1]}}}"""));
        Assert.Contains("element 0 is 1, but the input is STRING and needs strings", error.Message);
    }
}
