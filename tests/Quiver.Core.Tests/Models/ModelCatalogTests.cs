using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Models;

/// <summary>Loading a repository directory into the real ONNX Runtime.</summary>
public sealed class ModelCatalogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "quiver-catalog-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private void WriteModel(string model, string version, ModelBuilder onnx)
    {
        string dir = Path.Combine(_root, model, version);
        Directory.CreateDirectory(dir);
        onnx.Save(Path.Combine(dir, ModelCatalog.ModelFileName));
    }

    private void WriteFile(string model, string name, string text) => File.WriteAllText(Path.Combine(_root, model, name), text);

    private ModelCatalog Load() => ModelCatalog.Load(_root, OnnxRuntime.Instance, NullLogger.Instance);

    private static ModelBuilder Scores() => SampleModels.Identity(TensorElementType.Float, Dim.Named("batch"), Dim.Of(3));

    [Fact]
    public void Load_NumericVersions_AllReady_DefaultIsHighest()
    {
        WriteModel("m", "1", Scores());
        WriteModel("m", "3", Scores());
        WriteModel("m", "not-a-version", Scores());

        using ModelCatalog catalog = Load();

        Assert.Equal([1L, 3L], catalog.Models["m"].Select(v => v.Version));
        Assert.All(catalog.Models["m"], v => Assert.Equal(ModelState.Ready, v.State));
        Assert.Equal(3, catalog.Find("m", null, out _)!.Version);
        Assert.Equal(1, catalog.Find("m", "1", out _)!.Version);
        ServedModel model = catalog.Find("m", null, out _)!;
        Assert.Equal(DataType.Fp32, model.Inputs[0].DataType);
        Assert.Equal([-1L, 3L], model.Inputs[0].Shape);
    }

    [Fact]
    public void Find_UnknownModelOrVersion_IsNotFound()
    {
        WriteModel("m", "1", Scores());
        using ModelCatalog catalog = Load();

        Assert.Null(catalog.Find("other", null, out InferenceError? unknownModel));
        Assert.Equal(ErrorKind.NotFound, unknownModel!.Kind);
        Assert.Null(catalog.Find("m", "2", out InferenceError? unknownVersion));
        Assert.Equal(ErrorKind.NotFound, unknownVersion!.Kind);
        Assert.Contains("versions: 1", unknownVersion.Message);
    }

    [Fact]
    public void Load_CorruptHighestVersion_IsFailed_DefaultFallsBackToTheReadyOne()
    {
        WriteModel("m", "1", Scores());
        Directory.CreateDirectory(Path.Combine(_root, "m", "2"));
        File.WriteAllBytes(Path.Combine(_root, "m", "2", ModelCatalog.ModelFileName), [1, 2, 3, 4, 5]);

        using ModelCatalog catalog = Load();

        ModelVersionStatus failed = catalog.Models["m"][1];
        Assert.Equal(ModelState.Failed, failed.State);
        Assert.False(string.IsNullOrEmpty(failed.Reason));
        Assert.Equal(1, catalog.Find("m", null, out _)!.Version);
        Assert.Null(catalog.Find("m", "2", out InferenceError? error));
        Assert.Equal(ErrorKind.Unavailable, error!.Kind);
    }

    [Fact]
    public void Load_VersionFolderWithoutModelFile_IsFailedNamingTheFile()
    {
        Directory.CreateDirectory(Path.Combine(_root, "m", "1"));

        using ModelCatalog catalog = Load();

        Assert.Contains("model.onnx is missing", catalog.Models["m"][0].Reason);
    }

    [Fact]
    public void Load_LabelCountNotMatchingClasses_IsFailed()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.json", """{"label_files": {"output": "labels.txt"}}""");
        WriteFile("m", "labels.txt", "a\nb\n");

        using ModelCatalog catalog = Load();

        Assert.Contains("2 labels, but the output has 3 classes", catalog.Models["m"][0].Reason);
    }

    [Theory]
    [InlineData("""{"label_files": {"output": "../escape.txt"}}""", "inside the model's folder")]
    [InlineData("""{"label_files": {"output": "missing.txt"}}""", "does not exist")]
    [InlineData("""{"label_files": {"nope": "labels.txt"}}""", "does not have")]
    public void Load_BadLabelFiles_AreRefused(string config, string message)
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.json", config);
        WriteFile("m", "labels.txt", "a\nb\nc\n");

        using ModelCatalog catalog = Load();

        Assert.Equal(ModelState.Failed, catalog.Models["m"][0].State);
        Assert.Contains(message, catalog.Models["m"][0].Reason);
    }

    [Fact]
    public void Load_UnavailableProvider_WithoutFallback_FailsNamingTheProvider()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.json", """{"execution_providers": ["cuda"], "fallback_to_cpu": false}""");

        using ModelCatalog catalog = Load();

        Assert.Equal(ModelState.Failed, catalog.Models["m"][0].State);
        Assert.Contains("cuda", catalog.Models["m"][0].Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Load_UnavailableProvider_WithFallback_ServesOnCpu()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.json", """{"execution_providers": ["cuda", "cpu"]}""");

        using ModelCatalog catalog = Load();

        ServedModel model = catalog.Find("m", null, out _)!;
        Assert.Equal(["CPUExecutionProvider"], model.ExecutionProviders);
    }

    [Fact]
    public void Load_MissingRepository_NamesIt()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() => ModelCatalog.Load("/no/such/repo", OnnxRuntime.Instance, NullLogger.Instance));

        Assert.Contains("/no/such/repo", error.Message);
    }
}
