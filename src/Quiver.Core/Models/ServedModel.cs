using System.Diagnostics;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>One version of a model, loaded into ONNX Runtime and ready to run requests.</summary>
public sealed class ServedModel : IDisposable
{
    /// <summary>The platform name reported in model metadata, as Triton spells it.</summary>
    public const string Platform = "onnxruntime_onnx";

    private readonly SessionPool _sessions;
    private readonly string[] _allOutputNames;
    private TritonModelConfig? _triton;

    private ServedModel(string name, long version, ModelConfig config, SessionPool sessions,
        TensorSpec[] inputs, TensorSpec[] outputs, IReadOnlyDictionary<string, string[]> labels)
    {
        Name = name;
        Version = version;
        Config = config;
        _sessions = sessions;
        Inputs = inputs;
        Outputs = outputs;
        Labels = labels;
        _allOutputNames = Array.ConvertAll(outputs, o => o.Name);
    }

    public string Name { get; }

    public long Version { get; }

    public ModelConfig Config { get; }

    /// <summary>The inputs the model declares, in the protocol's datatypes.</summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }

    /// <summary>The outputs the model declares, in the protocol's datatypes.</summary>
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Class labels per output name, from the config's label files.</summary>
    public IReadOnlyDictionary<string, string[]> Labels { get; }

    /// <summary>Producer, description and custom metadata stored in the ONNX file.</summary>
    public ModelMetadata Metadata => _sessions.First.Metadata;

    /// <summary>The execution providers the sessions actually use.</summary>
    public IReadOnlyList<string> ExecutionProviders => _sessions.First.ExecutionProviders;

    /// <summary>
    /// Loads <paramref name="instances"/> sessions of one model file. Throws <see cref="OnnxRuntimeException"/>
    /// for a model ONNX Runtime rejects and <see cref="ModelConfigException"/> for one the protocol cannot serve.
    /// </summary>
    public static ServedModel Load(string name, long version, string modelPath, ModelConfig config,
        IReadOnlyDictionary<string, string[]> labels, OnnxRuntime runtime, TritonModelConfig? triton = null)
    {
        SessionSettings settings = SettingsFor(config);
        var sessions = new InferenceSession[config.InstanceCount];
        try
        {
            for (int i = 0; i < sessions.Length; i++)
            {
                sessions[i] = InferenceSession.FromFile(modelPath, settings, runtime);
            }

            TensorSpec[] inputs = ToSpecs(sessions[0].Inputs, "input");
            TensorSpec[] outputs = ToSpecs(sessions[0].Outputs, "output");
            CheckLabels(labels, outputs);
            return new ServedModel(name, version, config, new SessionPool(sessions), inputs, outputs, labels) { _triton = triton };
        }
        catch
        {
            foreach (InferenceSession? session in sessions)
            {
                session?.Dispose();
            }

            throw;
        }
    }

    /// <summary>Runs a request that <see cref="RequestValidator"/> has accepted.</summary>
    public async ValueTask<InferenceResponse> InferAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        var inputs = new NamedTensor[request.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = new NamedTensor(request.Inputs[i].Name, ToValue(request.Inputs[i]));
        }

        string[] outputNames = _allOutputNames;
        if (request.Outputs is { } requested)
        {
            outputNames = new string[requested.Count];
            for (int i = 0; i < outputNames.Length; i++)
            {
                outputNames[i] = requested[i].Name;
            }
        }

        TimeSpan input = Stopwatch.GetElapsedTime(start);
        var (values, queue, infer) = await _sessions.RunAsync(inputs, outputNames, cancellationToken).ConfigureAwait(false);
        long outputStart = Stopwatch.GetTimestamp();
        var outputs = new InferenceTensor[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            outputs[i] = ToTensor(outputNames[i], values[i]);
            if (request.Outputs?[i].Parameters is { } parameters && Classification.Requested(parameters, out long count))
            {
                Labels.TryGetValue(outputNames[i], out string[]? labels);
                outputs[i] = Classification.TopK(outputs[i], (int)count, labels);
            }
        }

        Statistics.RecordExecution(BatchSize(request), queue, input, infer, Stopwatch.GetElapsedTime(outputStart));
        return new InferenceResponse
        {
            ModelName = Name,
            ModelVersion = Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Id = request.Id,
            Outputs = outputs,
        };
    }

    /// <summary>
    /// The configuration this version runs with, in Triton's terms, for the model configuration extension:
    /// the signature ONNX Runtime reported (dims without the batch dimension when batching), Quiver's
    /// settings, and what a config.pbtxt added.
    /// </summary>
    public TritonModelConfig EffectiveConfig()
    {
        bool onGpu = ExecutionProviders.Any(p => p != "CPUExecutionProvider");
        return new TritonModelConfig
        {
            Name = Name,
            Platform = Platform,
            Backend = "onnxruntime",
            MaxBatchSize = Config.MaxBatchSize,
            Inputs = Inputs.Select(s => Describe(s, null)).ToArray(),
            Outputs = Outputs.Select(s => Describe(s, Config.LabelFiles.GetValueOrDefault(s.Name))).ToArray(),
            DynamicBatching = _triton?.DynamicBatching,
            InstanceGroups = [new TritonInstanceGroup(Config.InstanceCount, onGpu ? TritonInstanceKind.Gpu : TritonInstanceKind.Cpu, [])],
            VersionPolicy = _triton?.VersionPolicy ?? new TritonVersionPolicy(TritonVersionPolicyKind.All, 0, []),
            GpuExecutionAccelerators = _triton?.GpuExecutionAccelerators ?? [],
            CpuExecutionAccelerators = _triton?.CpuExecutionAccelerators ?? [],
            Parameters = _triton?.Parameters ?? new Dictionary<string, string>(),
        };
    }

    private TritonTensorConfig Describe(TensorSpec spec, string? labelFile) =>
        new(spec.Name, spec.DataType.Name(), Config.MaxBatchSize > 0 && spec.Shape.Length > 0 ? spec.Shape[1..] : spec.Shape, null, labelFile);

    /// <summary>Cumulative request and execution statistics of this version.</summary>
    public ModelStatistics Statistics { get; } = new();

    public void Dispose() => _sessions.Dispose();

    // Triton counts a request of a batching model as its first dimension's worth of inferences, others as one.
    private long BatchSize(InferenceRequest request) =>
        Config.MaxBatchSize > 0 && request.Inputs.Count > 0 && request.Inputs[0].Shape.Length > 0 ? request.Inputs[0].Shape[0] : 1;

    private static SessionSettings SettingsFor(ModelConfig config)
    {
        // Instances run in parallel, so by default they share the cores instead of each taking all of them.
        int intraOp = config.IntraOpThreads > 0
            ? config.IntraOpThreads
            : Math.Max(1, Environment.ProcessorCount / config.InstanceCount);
        return new SessionSettings
        {
            IntraOpThreads = intraOp,
            InterOpThreads = config.InterOpThreads,
            ExecutionProviders = config.ExecutionProviders
                .Select(p => new ExecutionProviderSettings(p))
                .ToArray(),
            FallbackToCpu = config.FallbackToCpu,
        };
    }

    private static TensorSpec[] ToSpecs(IReadOnlyList<TensorInfo> infos, string kind)
    {
        var specs = new TensorSpec[infos.Count];
        for (int i = 0; i < specs.Length; i++)
        {
            TensorInfo info = infos[i];
            if (!DataTypes.TryFromOnnx(info.ElementType, out DataType type))
            {
                throw new ModelConfigException(
                    $"{kind} '{info.Name}' has element type {info.ElementType}, which the inference protocol cannot carry.");
            }

            specs[i] = new TensorSpec(info.Name, type, info.Shape);
        }

        return specs;
    }

    private static void CheckLabels(IReadOnlyDictionary<string, string[]> labels, TensorSpec[] outputs)
    {
        foreach (var (output, names) in labels)
        {
            TensorSpec? spec = Array.Find(outputs, o => o.Name == output)
                ?? throw new ModelConfigException($"label_files names output '{output}', which the model does not have.");
            long classes = spec.Shape.Length == 0 ? -1 : spec.Shape[^1];
            if (classes >= 0 && classes != names.Length)
            {
                throw new ModelConfigException(
                    $"label file for output '{output}' has {names.Length} labels, but the output has {classes} classes.");
            }
        }
    }

    private static TensorValue ToValue(InferenceTensor tensor) =>
        tensor.DataType == DataType.Bytes
            ? TensorValue.FromStrings(tensor.Shape, tensor.Bytes!)
            : TensorValue.FromBytes(tensor.DataType.ToOnnx(), tensor.Shape, tensor.Data);

    private static InferenceTensor ToTensor(string name, TensorValue value)
    {
        if (!DataTypes.TryFromOnnx(value.ElementType, out DataType type))
        {
            throw new InvalidOperationException($"output '{name}' has element type {value.ElementType}, which the protocol cannot carry.");
        }

        return type == DataType.Bytes
            ? new InferenceTensor(name, value.Shape, value.Strings!)
            : new InferenceTensor(name, type, value.Shape, value.Data);
    }
}
