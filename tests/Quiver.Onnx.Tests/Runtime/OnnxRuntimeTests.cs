namespace Quiver.Onnx.Tests.Runtime;

public sealed class OnnxRuntimeTests
{
    [Fact]
    public void Instance_LoadsThePinnedLibraryFromBesideTheBinaries()
    {
        OnnxRuntime runtime = OnnxRuntime.Instance;

        Assert.Equal(Path.Combine(AppContext.BaseDirectory, OnnxRuntime.LibraryFileName), runtime.LibraryPath);
        Assert.StartsWith("1.30", runtime.Version);
    }

    [Fact]
    public void AvailableProviders_IncludeCpu()
    {
        Assert.Contains("CPUExecutionProvider", OnnxRuntime.Instance.AvailableProviders);
    }

    [Fact]
    public void Initialize_Again_ReturnsTheSameRuntime()
    {
        Assert.Same(OnnxRuntime.Instance, OnnxRuntime.Initialize());
    }

    [Fact]
    public void LibraryException_NamesThePathAndTheFix()
    {
        var error = new OrtLibraryException("/nowhere/libonnxruntime.so.1", "no such file");

        Assert.Contains("/nowhere/libonnxruntime.so.1", error.Message);
        Assert.Contains("QUIVER_ORT_LIBRARY", error.Message);
        Assert.Contains("npm ci", error.Message);
    }
}
