using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Tests.Lifecycle;
using Quiver.Core.Tensors;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Models;

/// <summary>Loading a repository directory into the real ONNX Runtime.</summary>
public sealed class ModelCatalogTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "quiver-catalog-" + Guid.NewGuid().ToString("N"));
    private readonly ListLogger _log = new();
    private LoadedRepository? _loaded;

    public void Dispose()
    {
        _loaded?.Dispose();
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private void WriteModel(string model, string version, ModelBuilder onnx)
    {
        string dir = Path.Combine(_root, model, version);
        Directory.CreateDirectory(dir);
        onnx.Save(Path.Combine(dir, RepositoryImporter.ModelFileName));
    }

    private void WriteFile(string model, string name, string text) => File.WriteAllText(Path.Combine(_root, model, name), text);

    private ModelCatalog Load()
    {
        _loaded = LoadedRepository.Load(_root, _log);
        return _loaded.Catalog;
    }

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
        File.WriteAllBytes(Path.Combine(_root, "m", "2", RepositoryImporter.ModelFileName), [1, 2, 3, 4, 5]);

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

    // No GPU here: this is the fallback path a CPU-only box takes, where require_gpu must refuse to serve.
    [Fact]
    public void Load_RequireGpu_OnACpuOnlyRuntime_FailsSayingHowToGetTheGpuBuild()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.json", """{"execution_providers": ["tensorrt", "cuda", "cpu"], "require_gpu": true}""");

        using ModelCatalog catalog = Load();

        Assert.Equal(ModelState.Failed, catalog.Models["m"][0].State);
        string reason = catalog.Models["m"][0].Reason!;
        Assert.Contains("require_gpu is set, but none of the GPU providers asked for (tensorrt, cuda, cpu) could be used", reason);
        Assert.Contains("CPUExecutionProvider", reason);
        Assert.Contains("QUIVER_ORT_LIBRARY", reason);
    }

    [Fact]
    public void Load_MissingRepository_NamesIt()
    {
        var error = Assert.Throws<DirectoryNotFoundException>(() => LoadedRepository.Load("/no/such/repo"));

        Assert.Contains("/no/such/repo", error.Message);
    }

    // Shaped like Triton's examples for an ONNX classifier; Scores() is input/output FLOAT [batch, 3].
    private const string ScoresPbtxt = """
        name: "m"
        platform: "onnxruntime_onnx"
        max_batch_size: 8
        input [ { name: "input", data_type: TYPE_FP32, dims: [ 3 ] } ]
        output [
          {
            name: "output"
            data_type: TYPE_FP32
            dims: [ 3 ]
            label_filename: "labels.txt"
          }
        ]
        instance_group [ { count: 2, kind: KIND_CPU } ]
        dynamic_batching { max_queue_delay_microseconds: 100 }
        """;

    [Fact]
    public void Load_TritonConfig_AppliesBatchSizeInstancesAndLabels()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.pbtxt", ScoresPbtxt);
        WriteFile("m", "labels.txt", "cat\ndog\nbird\n");

        using ModelCatalog catalog = Load();

        ServedModel model = catalog.Find("m", null, out InferenceError? error)!;
        Assert.Null(error);
        Assert.Equal(8, model.Config.MaxBatchSize);
        Assert.Equal(2, model.Config.InstanceCount);
        Assert.Equal(["cpu"], model.Config.ExecutionProviders);
        Assert.Equal(["cat", "dog", "bird"], model.Labels["output"]);
        Assert.Equal(["CPUExecutionProvider"], model.ExecutionProviders);
        Assert.DoesNotContain(_log.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void Load_TritonConfigWithoutVersionPolicy_ServesOnlyTheHighestVersion()
    {
        WriteModel("m", "1", Scores());
        WriteModel("m", "2", Scores());
        WriteModel("m", "10", Scores());
        WriteFile("m", "config.pbtxt", "max_batch_size: 4");

        using ModelCatalog catalog = Load();

        Assert.Equal([10L], catalog.Models["m"].Select(v => v.Version));
        Assert.Equal(ModelState.Ready, catalog.Models["m"][0].State);
        Assert.Null(catalog.Find("m", "1", out InferenceError? error));
        Assert.Equal(ErrorKind.NotFound, error!.Kind);
    }

    [Theory]
    [InlineData("version_policy: { latest: { num_versions: 2 } }", new long[] { 2, 3 })]
    [InlineData("version_policy: { all: {} }", new long[] { 1, 2, 3 })]
    [InlineData("version_policy: { specific: { versions: [ 1, 3 ] } }", new long[] { 1, 3 })]
    [InlineData("version_policy { specific { versions: 2 } }", new long[] { 2 })]
    public void Load_VersionPolicy_DecidesWhichFoldersAreLoaded(string policy, long[] loaded)
    {
        WriteModel("m", "1", Scores());
        WriteModel("m", "2", Scores());
        WriteModel("m", "3", Scores());
        WriteFile("m", "config.pbtxt", "max_batch_size: 4\n" + policy);

        using ModelCatalog catalog = Load();

        Assert.Equal(loaded, catalog.Models["m"].Select(v => v.Version));
        Assert.All(catalog.Models["m"], v => Assert.Equal(ModelState.Ready, v.State));
        Assert.Equal(loaded[^1], catalog.Find("m", null, out _)!.Version);
    }

    [Fact]
    public void Load_SpecificVersionWithoutFolder_IsListedAsFailed()
    {
        WriteModel("m", "1", Scores());
        WriteModel("m", "2", Scores());
        WriteFile("m", "config.pbtxt", "version_policy { specific { versions: [ 4, 1 ] } }");

        using ModelCatalog catalog = Load();

        Assert.Equal([1L, 4L], catalog.Models["m"].Select(v => v.Version));
        Assert.Equal(ModelState.Ready, catalog.Models["m"][0].State);
        Assert.Equal(ModelState.Failed, catalog.Models["m"][1].State);
        Assert.Contains("version_policy names version 4, but the model has no version 4", catalog.Models["m"][1].Reason);
        Assert.Equal(1, catalog.Find("m", null, out _)!.Version);
    }

    [Fact]
    public void Load_ConfigJsonBesideConfigPbtxt_OverridesOnlyWhatItSets()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.pbtxt", """
            max_batch_size: 8
            instance_group [ { count: 3, kind: KIND_GPU } ]
            """);
        WriteFile("m", "config.json", """{"instance_count": 1, "execution_providers": ["cpu"]}""");

        using ModelCatalog catalog = Load();

        ServedModel model = catalog.Find("m", null, out _)!;
        Assert.Equal(8, model.Config.MaxBatchSize);
        Assert.Equal(1, model.Config.InstanceCount);
        Assert.Equal(["cpu"], model.Config.ExecutionProviders);
    }

    [Fact]
    public void Load_ConfigPbtxtDisagreeingWithTheModel_FailsThatVersionNamingTheField_OthersServe()
    {
        WriteModel("bad", "1", Scores());
        WriteFile("bad", "config.pbtxt", """
            max_batch_size: 8
            input [ { name: "input", data_type: TYPE_FP32, dims: [ 5 ] } ]
            output [ { name: "nope", data_type: TYPE_FP32, dims: [ 3 ] } ]
            """);
        WriteModel("good", "1", Scores());
        WriteFile("good", "config.pbtxt", ScoresPbtxt.Replace("label_filename: \"labels.txt\"", ""));

        using ModelCatalog catalog = Load();

        ModelVersionStatus bad = catalog.Models["bad"][0];
        Assert.Equal(ModelState.Failed, bad.State);
        Assert.Null(bad.Model);
        Assert.Contains("config.pbtxt input 'input' dims [5] do not match the model's shape [-1,3] (max_batch_size 8 adds the batch dimension)", bad.Reason);
        Assert.Contains("config.pbtxt names output 'nope', which the model does not have", bad.Reason);
        Assert.Null(catalog.Find("bad", null, out InferenceError? error));
        Assert.Equal(ErrorKind.Unavailable, error!.Kind);
        Assert.Contains("dims [5]", error.Message);
        Assert.Equal(ModelState.Ready, catalog.Models["good"][0].State);
        Assert.NotNull(catalog.Find("good", null, out _));
        Assert.Contains(_log.Entries, e => e.Id.Id == 101 && e.Message.Contains("bad") && e.Message.Contains("dims [5]"));
    }

    [Fact]
    public void Load_ConfigPbtxtWithWrongDataType_FailsNamingBothTypes()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.pbtxt", "input { name: \"input\" data_type: TYPE_INT64 }");

        using ModelCatalog catalog = Load();

        Assert.Contains("config.pbtxt input 'input' has data_type TYPE_INT64 but the model's input is FP32", catalog.Models["m"][0].Reason);
    }

    [Fact]
    public void Load_ConfigPbtxtUnknownFields_AreLoggedAsWarnings_ModelServes()
    {
        WriteModel("m", "1", Scores());
        WriteFile("m", "config.pbtxt", """
            max_batch_size: 8
            model_warmup [ { name: "zeros" batch_size: 1 } ]
            optimization { cuda { graphs: true } }
            """);

        using ModelCatalog catalog = Load();

        Assert.Equal(ModelState.Ready, catalog.Models["m"][0].State);
        var warnings = _log.Entries.Where(e => e.Id.Id == 102).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Equal("Model m: config.pbtxt line 2, column 1: unknown field 'model_warmup' ignored", warnings[0].Message);
        Assert.Contains("unknown field 'optimization.cuda' ignored", warnings[1].Message);
    }

    [Theory]
    [InlineData("max_batch_size: 8\ninput [ { name: \"input\" }\n", "config.pbtxt line 3, column 1: expected ',' or ']' but found end of file")]
    [InlineData("max_batch_size: \"x\"", "config.pbtxt line 1, column 17: 'max_batch_size' must be an integer >= 0, got \"x\"")]
    public void Load_UnusableConfigPbtxt_FailsEveryVersion_OtherModelsServe(string pbtxt, string reason)
    {
        WriteModel("broken", "1", Scores());
        WriteModel("broken", "2", Scores());
        WriteFile("broken", "config.pbtxt", pbtxt);
        WriteModel("fine", "1", Scores());

        using ModelCatalog catalog = Load();

        Assert.Equal([1L, 2L], catalog.Models["broken"].Select(v => v.Version));
        Assert.All(catalog.Models["broken"], v =>
        {
            Assert.Equal(ModelState.Failed, v.State);
            Assert.Equal(reason, v.Reason);
        });
        Assert.NotNull(catalog.Find("fine", null, out _));
    }

    private sealed class ListLogger : ILogger
    {
        public List<(EventId Id, LogLevel Level, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) => Entries.Add((eventId, logLevel, formatter(state, exception)));
    }
}
