using System.Diagnostics;
using Quiver.Core.Monitoring;
using Quiver.Core.Scheduling;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Models;

/// <summary>One version of a model, loaded into ONNX Runtime and ready to run requests.</summary>
public sealed class ServedModel : IDisposable
{
    /// <summary>The platform name reported in model metadata, as Triton spells it.</summary>
    public const string Platform = "onnxruntime_onnx";

    private readonly ModelScheduler _scheduler;
    private readonly string[] _allOutputNames;
    private TritonModelConfig? _triton;

    // config.pbtxt reshapes by tensor name: clients see Dims, ONNX Runtime sees Reshape (after any batch dimension).
    private Dictionary<string, TritonTensorConfig> _reshapes = [];

    private ServedModel(string name, long version, ModelConfig config, InferenceSession[] sessions,
        TensorSpec[] inputs, TensorSpec[] outputs, IReadOnlyDictionary<string, string[]> labels)
    {
        Name = name;
        Version = version;
        VersionText = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Config = config;
        _scheduler = new ModelScheduler(sessions, new SchedulerSettings(config.MaxBatchSize, config.DynamicBatching, config.MaxQueueSize),
            Statistics, $"'{name}' version {version}");
        Inputs = inputs;
        Outputs = outputs;
        Labels = labels;
        _allOutputNames = Array.ConvertAll(outputs, o => o.Name);
    }

    public string Name { get; }

    /// <summary>Tells this load of the version from any other, so a reloaded version never answers from the old one's cache entries.</summary>
    public Guid LoadId { get; } = Guid.NewGuid();

    public long Version { get; }

    /// <summary><see cref="Version"/> as the protocol writes it, made once rather than for every response.</summary>
    public string VersionText { get; }

    public ModelConfig Config { get; }

    /// <summary>The inputs ONNX Runtime reports for the model file, before any config.pbtxt reshape.</summary>
    public IReadOnlyList<TensorSpec> ModelInputs { get; private init; } = [];

    /// <summary>The outputs ONNX Runtime reports for the model file, before any config.pbtxt reshape.</summary>
    public IReadOnlyList<TensorSpec> ModelOutputs { get; private init; } = [];

    /// <summary>The inputs clients send, in the protocol's datatypes (config.pbtxt's dims where it reshapes).</summary>
    public IReadOnlyList<TensorSpec> Inputs { get; }

    /// <summary>The outputs the model declares, in the protocol's datatypes.</summary>
    public IReadOnlyList<TensorSpec> Outputs { get; }

    /// <summary>Class labels per output name, from the config's label files.</summary>
    public IReadOnlyDictionary<string, string[]> Labels { get; }

    /// <summary>Producer, description and custom metadata stored in the ONNX file.</summary>
    public ModelMetadata Metadata => _scheduler.First.Metadata;

    /// <summary>The execution providers the sessions actually use.</summary>
    public IReadOnlyList<string> ExecutionProviders => _scheduler.First.ExecutionProviders;

    /// <summary>
    /// Loads the configured number of instances of one model, from its bytes (an artifact decrypted in memory never
    /// touches the disk). Throws <see cref="OnnxRuntimeException"/> for a model ONNX Runtime rejects and
    /// <see cref="ModelConfigException"/> for one the protocol cannot serve.
    /// </summary>
    public static ServedModel Load(string name, long version, byte[] model, ModelConfig config,
        IReadOnlyDictionary<string, string[]> labels, OnnxRuntime runtime, TritonModelConfig? triton = null)
    {
        SessionSettings settings = SettingsFor(config);
        var sessions = new InferenceSession[config.InstanceCount];
        try
        {
            for (int i = 0; i < sessions.Length; i++)
            {
                sessions[i] = InferenceSession.FromBytes(model, settings, runtime);
            }

            RequireGpuIfAsked(config, sessions[0], runtime);
            TensorSpec[] modelInputs = ToSpecs(sessions[0].Inputs, "input");
            TensorSpec[] modelOutputs = ToSpecs(sessions[0].Outputs, "output");
            if (config.Warmup)
            {
                WarmUp(sessions, config.WarmupSample);
            }

            Dictionary<string, TritonTensorConfig> reshapes = (triton?.Inputs ?? []).Concat(triton?.Outputs ?? [])
                .Where(t => t.Reshape is not null)
                .ToDictionary(t => t.Name);
            TensorSpec[] outputs = ClientSpecs(modelOutputs, reshapes, config.MaxBatchSize);
            CheckLabels(labels, outputs);
            return new ServedModel(name, version, config, sessions, ClientSpecs(modelInputs, reshapes, config.MaxBatchSize), outputs, labels)
            {
                _triton = triton,
                _reshapes = reshapes,
                ModelInputs = modelInputs,
                ModelOutputs = modelOutputs,
                Drift = config.Drift is { } drift ? new Monitoring.Drift.DriftMonitor(drift, config.SensitiveInputs) : null,
            };
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

    /// <summary>
    /// Queues a request that <see cref="RequestValidator"/> has accepted and returns its response. Request parameters
    /// honoured here: <c>timeout</c> (microseconds to wait before running, as Triton), <c>priority</c> (1 or absent:
    /// online; 2 or more: batch work, which runs only when no online request waits).
    /// </summary>
    public async ValueTask<InferenceResponse> InferAsync(InferenceRequest request, CancellationToken cancellationToken)
    {
        using Activity? span = QuiverTracing.Source.StartActivity("infer " + Name);
        span?.SetTag("model", Name).SetTag("version", Version).SetTag("request.id", request.Id);
        var inputs = new NamedTensor[request.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = new NamedTensor(request.Inputs[i].Name, ToValue(request.Inputs[i], ReshapeFor(request.Inputs[i].Name, toModel: true)));
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

        var scheduled = new ScheduledRequest(inputs, outputNames, BatchSize(request), PriorityOf(request), DeadlineOf(request),
            Config.DynamicBatching is null ? null : BatchKey(inputs, outputNames), cancellationToken);
        TensorValue[] values = await _scheduler.EnqueueAsync(scheduled).ConfigureAwait(false);
        QuiverTracing.RecordStage("queue", scheduled.EnqueuedTimestamp, scheduled.StartedTimestamp);
        QuiverTracing.RecordStage("execute", scheduled.StartedTimestamp, scheduled.FinishedTimestamp,
            new("batch.rows", scheduled.Batch.Rows), new("batch.requests", scheduled.Batch.Requests));
        var outputs = new InferenceTensor[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            outputs[i] = ToTensor(outputNames[i], values[i], ReshapeFor(outputNames[i], toModel: false));
            if (request.Outputs?[i].Parameters is { } parameters && Classification.Requested(parameters, out long count))
            {
                Labels.TryGetValue(outputNames[i], out string[]? labels);
                outputs[i] = Classification.TopK(outputs[i], (int)count, labels);
            }
        }

        return new InferenceResponse
        {
            ModelName = Name,
            ModelVersion = VersionText,
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
        new(spec.Name, spec.DataType.Name(), Config.MaxBatchSize > 0 && spec.Shape.Length > 0 ? spec.Shape[1..] : spec.Shape,
            _reshapes.GetValueOrDefault(spec.Name)?.Reshape, labelFile);

    /// <summary>Drift watching of this version's inputs and outputs; null unless its config asks for it.</summary>
    public Monitoring.Drift.DriftMonitor? Drift { get; private init; }

    /// <summary>The features drift watching can see: every column of the [batch, n] numeric inputs (but sensitive ones) and outputs.</summary>
    public IReadOnlyList<string> DriftFeatures =>
        Inputs.Where(s => !Config.SensitiveInputs.Contains(s.Name)).Concat(Outputs)
            .Where(s => s.Shape.Length == 2 && s.Shape[1] > 0 && s.DataType is not (DataType.Bytes or DataType.Bool))
            .SelectMany(s => Enumerable.Range(0, (int)s.Shape[1]).Select(c => $"{s.Name}[{c}]"))
            .ToArray();

    /// <summary>Requests waiting for an instance of this version now.</summary>
    public int QueueDepth => _scheduler.Queued;

    /// <summary>Cumulative request and execution statistics of this version.</summary>
    public ModelStatistics Statistics { get; } = new();

    /// <summary>Stops taking requests, lets queued and running ones finish, then releases the sessions.</summary>
    public void Dispose() => _scheduler.Dispose();

    private static Priority PriorityOf(InferenceRequest request) =>
        ReadParameter(request, "priority") >= 2 ? Priority.Batch : Priority.Online;

    private static long DeadlineOf(InferenceRequest request) =>
        ReadParameter(request, "timeout") is long micros and >= 0
            ? Stopwatch.GetTimestamp() + (long)(micros * (Stopwatch.Frequency / 1e6))
            : long.MaxValue;

    private static long? ReadParameter(InferenceRequest request, string name)
    {
        if (!request.Parameters.TryGetInt64(name, out long value, out string? error))
        {
            return error is null ? null : throw InferenceException.InvalidArgument(error);
        }

        return value >= 0 ? value : throw InferenceException.InvalidArgument($"parameter '{name}' must be 0 or more, got {value}");
    }

    // Requests share a batch only when everything but the first dimension matches, and they ask for the same outputs.
    private static string BatchKey(NamedTensor[] inputs, string[] outputNames)
    {
        var key = new System.Text.StringBuilder();
        foreach (NamedTensor input in inputs)
        {
            key.Append(input.Name).Append(':').Append((int)input.Value.ElementType).Append(':');
            for (int d = 1; d < input.Value.Shape.Length; d++)
            {
                key.Append(input.Value.Shape[d]).Append(',');
            }

            key.Append(';');
        }

        return key.Append('|').AppendJoin(',', outputNames).ToString();
    }

    // Triton counts a request of a batching model as its first dimension's worth of inferences, others as one.
    private long BatchSize(InferenceRequest request) =>
        Config.MaxBatchSize > 0 && request.Inputs.Count > 0 && request.Inputs[0].Shape.Length > 0 ? request.Inputs[0].Shape[0] : 1;

    /// <summary>
    /// The thread budget: instances run in parallel, so together they get the machine's cores once —
    /// each instance at most cores / instance_count intra-op threads (at least one), whatever
    /// intra_op_threads asks. Oversubscribed spinning threads cost more than they give.
    /// </summary>
    public static int IntraOpThreadsFor(ModelConfig config, int cores)
    {
        int share = Math.Max(1, cores / config.InstanceCount);
        return config.IntraOpThreads > 0 ? Math.Min(config.IntraOpThreads, share) : share;
    }

    // One run per instance, of the configured sample or else of zeros with dynamic dimensions set to 1: ONNX Runtime
    // allocates and plans on the first run.
    private static void WarmUp(InferenceSession[] sessions, WarmupSample? sample)
    {
        NamedTensor[] inputs = sample?.ToTensors(sessions[0].Inputs) ?? Zeros(sessions[0].Inputs);
        foreach (InferenceSession session in sessions)
        {
            try
            {
                session.Run(inputs);
            }
            catch (OnnxRuntimeException e) when (sample is null)
            {
                throw new ModelConfigException($"the warm-up run (zeros, dynamic dimensions 1) failed: {e.Message}. Set \"warmup\": false in config.json if the model cannot take such input, or give a sample as \"warmup\": {{\"inputs\": {{...}}}}.");
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelConfigException($"the warm-up run of the sample in config.json's \"warmup\" failed: {e.Message}");
            }
        }
    }

    private static NamedTensor[] Zeros(IReadOnlyList<TensorInfo> modelInputs) => modelInputs.Select(info =>
    {
        long[] shape = Array.ConvertAll(info.Shape, d => d < 0 ? 1 : d);
        long count = Shapes.ElementCount(shape);
        TensorValue value = info.ElementType == TensorElementType.String
            ? TensorValue.FromStrings(shape, Enumerable.Repeat(Array.Empty<byte>(), (int)count).ToArray())
            : TensorValue.FromBytes(info.ElementType, shape, new byte[count * ElementTypes.SizeOf(info.ElementType)]);
        return new NamedTensor(info.Name, value);
    }).ToArray();

    private static void RequireGpuIfAsked(ModelConfig config, InferenceSession session, OnnxRuntime runtime)
    {
        if (config.RequireGpu && session.ExecutionProviders.All(p => p == "CPUExecutionProvider"))
        {
            throw new ModelConfigException(
                $"require_gpu is set, but none of the GPU providers asked for ({string.Join(", ", config.ExecutionProviders)}) could be used: " +
                $"the ONNX Runtime at {runtime.LibraryPath} offers {string.Join(", ", runtime.AvailableProviders)}. Point QUIVER_ORT_LIBRARY " +
                "at ONNX Runtime's GPU build (libonnxruntime.so with CUDA/TensorRT), or drop require_gpu to run on CPU.");
        }
    }

    /// <summary>
    /// Whether idle intra-op threads spin: as configured, else only for a single instance — several instances already
    /// share the cores (see <see cref="IntraOpThreadsFor"/>), and spinning ones would take them from each other.
    /// </summary>
    public static bool SpinningFor(ModelConfig config) => config.AllowSpinning ?? config.InstanceCount == 1;

    private static SessionSettings SettingsFor(ModelConfig config)
    {
        return new SessionSettings
        {
            IntraOpThreads = IntraOpThreadsFor(config, Environment.ProcessorCount),
            InterOpThreads = config.InterOpThreads,
            ConfigEntries = new Dictionary<string, string>
            {
                ["session.intra_op.allow_spinning"] = SpinningFor(config) ? "1" : "0",
                ["session.inter_op.allow_spinning"] = SpinningFor(config) ? "1" : "0",
            },
            ExecutionProviders = config.ExecutionProviders
                .Select(p => new ExecutionProviderSettings(p))
                .ToArray(),
            FallbackToCpu = config.FallbackToCpu,
        };
    }

    internal static TensorSpec[] ToSpecs(IReadOnlyList<TensorInfo> infos, string kind)
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

    private long[]? ReshapeFor(string name, bool toModel) =>
        _reshapes.TryGetValue(name, out TritonTensorConfig? tensor) ? (toModel ? tensor.Reshape : tensor.Dims) : null;

    // The client-facing shape of a reshaped tensor: the batch dimension (when batching), then config.pbtxt's dims.
    private static TensorSpec[] ClientSpecs(TensorSpec[] specs, Dictionary<string, TritonTensorConfig> reshapes, int maxBatchSize) =>
        Array.ConvertAll(specs, spec => reshapes.TryGetValue(spec.Name, out TritonTensorConfig? tensor)
            ? spec with { Shape = maxBatchSize > 0 ? [-1, .. tensor.Dims] : tensor.Dims }
            : spec);

    // Same elements, another shape: the batch dimension is kept and a -1 in the target takes what is left.
    private long[] Reshape(long[] shape, long[]? target)
    {
        if (target is null)
        {
            return shape;
        }

        long[] batch = Config.MaxBatchSize > 0 && shape.Length > 0 ? [shape[0]] : [];
        long perItem = Shapes.ElementCount(shape.AsSpan(batch.Length));
        long known = Shapes.ElementCount(target.Where(d => d >= 0).ToArray());
        long[] resolved = Array.ConvertAll(target, d => d >= 0 ? d : (known == 0 ? 0 : perItem / known));
        return [.. batch, .. resolved];
    }

    private TensorValue ToValue(InferenceTensor tensor, long[]? reshape)
    {
        long[] shape = Reshape(tensor.Shape, reshape);
        return tensor.DataType == DataType.Bytes
            ? TensorValue.FromStrings(shape, tensor.Bytes!)
            : TensorValue.FromBytes(tensor.DataType.ToOnnx(), shape, tensor.Data);
    }

    private InferenceTensor ToTensor(string name, TensorValue value, long[]? reshape)
    {
        if (!DataTypes.TryFromOnnx(value.ElementType, out DataType type))
        {
            throw new InvalidOperationException($"output '{name}' has element type {value.ElementType}, which the protocol cannot carry.");
        }

        long[] shape = Reshape(value.Shape, reshape);
        return type == DataType.Bytes
            ? new InferenceTensor(name, shape, value.Strings!)
            : new InferenceTensor(name, type, shape, value.Data);
    }
}
