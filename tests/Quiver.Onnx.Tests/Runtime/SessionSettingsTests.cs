using Quiver.Onnx.Model;

namespace Quiver.Onnx.Tests.Runtime;

public sealed class SessionSettingsTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose() => _models.Dispose();

    [Theory]
    [InlineData(ExecutionMode.Sequential, GraphOptimizationLevel.DisableAll, false, false)]
    [InlineData(ExecutionMode.Parallel, GraphOptimizationLevel.Basic, true, false)]
    [InlineData(ExecutionMode.Sequential, GraphOptimizationLevel.Extended, false, true)]
    [InlineData(ExecutionMode.Parallel, GraphOptimizationLevel.All, true, true)]
    public void EverySetting_BuildsASessionThatComputesTheSameResult(ExecutionMode mode, GraphOptimizationLevel level, bool arena, bool pattern)
    {
        var settings = new SessionSettings
        {
            IntraOpThreads = 2,
            InterOpThreads = 2,
            ExecutionMode = mode,
            OptimizationLevel = level,
            EnableCpuMemoryArena = arena,
            EnableMemoryPattern = pattern,
            LogId = "settings-test",
            ConfigEntries = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0" },
        };
        using var session = InferenceSession.FromFile(_models.Mlp(), settings);
        float[] x = [1f, -2f, 0.5f, 3f];

        float[] result = session.Run([new("input", TensorValue.FromArray([1L, 4L], x))])[0].AsSpan<float>().ToArray();

        float[] expected = TestModels.ExpectedMlp(x, 1);
        Assert.Equal(expected[0], result[0], 5);
        Assert.Equal(expected[1], result[1], 5);
    }

    [Fact]
    public void OptimizedModelPath_WritesTheOptimizedGraphThatLoadsAgain()
    {
        string optimized = Path.Combine(Path.GetTempPath(), $"quiver-optimized-{Guid.NewGuid():N}.onnx");
        try
        {
            using (InferenceSession.FromFile(_models.Mlp(), new SessionSettings { OptimizedModelPath = optimized, OptimizationLevel = GraphOptimizationLevel.Basic }))
            {
            }

            Assert.True(File.Exists(optimized));
            using var reloaded = InferenceSession.FromFile(optimized);
            Assert.Equal("probabilities", reloaded.Outputs[0].Name);
        }
        finally
        {
            File.Delete(optimized);
        }
    }

    [Fact]
    public void NoProviders_RunsOnCpu()
    {
        using var session = InferenceSession.FromFile(_models.Mlp());

        Assert.Equal(["CPUExecutionProvider"], session.ExecutionProviders);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("tensorrt")]
    [InlineData("NoSuchProvider")]
    public void UnavailableProvider_WithoutFallback_FailsNamingIt(string provider)
    {
        var settings = new SessionSettings { ExecutionProviders = [new(provider)], FallbackToCpu = false };

        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromFile(_models.Mlp(), settings));

        Assert.Contains($"'{provider}'", error.Message);
        Assert.Contains("Names Quiver knows: cpu, cuda, tensorrt", error.Message);
        Assert.Contains("CPUExecutionProvider", error.Message);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("tensorrt")]
    [InlineData("NoSuchProvider")]
    public void UnavailableProvider_WithFallback_RunsOnCpu(string provider)
    {
        var settings = new SessionSettings { ExecutionProviders = [new(provider, new Dictionary<string, string> { ["device_id"] = "0" }), new("cpu")] };

        using var session = InferenceSession.FromFile(_models.Mlp(), settings);

        Assert.Equal(["CPUExecutionProvider"], session.ExecutionProviders);
        Assert.Single(session.Run([new("input", TensorValue.FromArray([1L, 4L], new float[4]))]));
    }

    [Fact]
    public void GenericProvider_InThisBuild_IsAppendedByName()
    {
        // XNNPACK ships in the official CPU build of ONNX Runtime; if it is absent the provider must fail cleanly instead.
        var settings = new SessionSettings { ExecutionProviders = [new("XNNPACK")], FallbackToCpu = false };

        if (OnnxRuntime.Instance.AvailableProviders.Contains("XnnpackExecutionProvider"))
        {
            using var session = InferenceSession.FromFile(_models.Mlp(), settings);
            Assert.Equal(["XNNPACKExecutionProvider", "CPUExecutionProvider"], session.ExecutionProviders);
        }
        else
        {
            Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromFile(_models.Mlp(), settings));
        }
    }
}
