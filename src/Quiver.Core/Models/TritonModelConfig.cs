using System.Globalization;
using Quiver.Core.Tensors;

namespace Quiver.Core.Models;

/// <summary>
/// The parts of a Triton <c>config.pbtxt</c> (message <c>inference.ModelConfig</c>) that Quiver uses.
/// Fields it does not use are listed in <see cref="Warnings"/> rather than refused, so Triton repositories load as they are.
/// </summary>
public sealed record TritonModelConfig
{
    /// <summary>The file name looked for in a model's folder.</summary>
    public const string FileName = "config.pbtxt";

    /// <summary>The model name the config declares; empty when it declares none.</summary>
    public string Name { get; init; } = "";

    /// <summary>Triton's platform, e.g. "onnxruntime_onnx"; empty when not given.</summary>
    public string Platform { get; init; } = "";

    /// <summary>Triton's backend, e.g. "onnxruntime"; empty when not given.</summary>
    public string Backend { get; init; } = "";

    /// <summary>Largest batch; when above 0 the inputs' and outputs' dims leave out the leading batch dimension.</summary>
    public int MaxBatchSize { get; init; }

    /// <summary>The inputs the config describes, in order; the model may have more.</summary>
    public IReadOnlyList<TritonTensorConfig> Inputs { get; init; } = [];

    /// <summary>The outputs the config describes, in order; the model may have more.</summary>
    public IReadOnlyList<TritonTensorConfig> Outputs { get; init; } = [];

    /// <summary>The dynamic batching settings, or null when the config does not enable dynamic batching.</summary>
    public TritonDynamicBatching? DynamicBatching { get; init; }

    /// <summary>The instance groups, in order; empty when the config has none.</summary>
    public IReadOnlyList<TritonInstanceGroup> InstanceGroups { get; init; } = [];

    /// <summary>Which version folders are served; Triton's default is the highest one only.</summary>
    public TritonVersionPolicy VersionPolicy { get; init; } = TritonVersionPolicy.Default;

    /// <summary>Names of the accelerators asked for on GPU instances, e.g. "tensorrt", in priority order.</summary>
    public IReadOnlyList<string> GpuExecutionAccelerators { get; init; } = [];

    /// <summary>Names of the accelerators asked for on CPU instances, e.g. "openvino", in priority order.</summary>
    public IReadOnlyList<string> CpuExecutionAccelerators { get; init; } = [];

    /// <summary>optimization.graph.level: -1 basic only, 0 or absent the framework default, 1 basic and extended.</summary>
    public int? GraphOptimizationLevel { get; init; }

    /// <summary>The model parameters, key to string_value.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary><c>response_cache { enable: true }</c>: identical requests are answered from the result cache.</summary>
    public bool ResponseCache { get; init; }

    /// <summary>One line per field that was ignored, with its position, e.g. "unknown field 'model_warmup' ignored".</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Reads a config.pbtxt; every wrong type or value is reported together in one <see cref="ModelConfigException"/>.</summary>
    public static TritonModelConfig Parse(string text)
    {
        TextProtoMessage root = TextProtoReader.Parse(text, FileName);
        var mapper = new TritonConfigMapper(FileName);
        TritonModelConfig config = mapper.Read(root);
        if (mapper.Errors.Count > 0)
        {
            throw new ModelConfigException(string.Join("; ", mapper.Errors));
        }

        return config with { Warnings = mapper.Warnings };
    }

    /// <summary>Reads Triton's JSON form of a model configuration (as a repository load request's "config" carries it).</summary>
    public static TritonModelConfig ParseJson(string json) => Parse(TritonConfigJson.ToTextProto(json));

    /// <summary>
    /// Where the config disagrees with the model's own signature: a name the model lacks, another datatype, or
    /// a shape that cannot match; or a platform or backend other than ONNX Runtime's. Empty when they agree.
    /// Tensors the config leaves out are not checked.
    /// </summary>
    public IReadOnlyList<string> Validate(IReadOnlyList<TensorSpec> modelInputs, IReadOnlyList<TensorSpec> modelOutputs)
    {
        var problems = new List<string>();
        if (Platform is not ("" or "onnxruntime_onnx"))
        {
            problems.Add($"{FileName} platform is '{Platform}', but Quiver serves only ONNX models (platform onnxruntime_onnx)");
        }

        if (Backend is not ("" or "onnxruntime"))
        {
            problems.Add($"{FileName} backend is '{Backend}', but Quiver serves only ONNX models (backend onnxruntime)");
        }

        Compare(Inputs, modelInputs, "input", problems);
        Compare(Outputs, modelOutputs, "output", problems);
        return problems;
    }

    /// <summary>Quiver's settings for this config: batch size, instance count, execution providers and label files.</summary>
    public ModelConfig ToModelConfig()
    {
        long instances = InstanceGroups.Count == 0 ? 1 : InstanceGroups.Sum(g => (long)g.Count);
        return new ModelConfig
        {
            MaxBatchSize = MaxBatchSize,
            InstanceCount = (int)Math.Min(instances, int.MaxValue),
            ExecutionProviders = ExecutionProviders(),
            LabelFiles = Outputs
                .Where(o => o.LabelFilename is not null)
                .ToDictionary(o => o.Name, o => o.LabelFilename!),
            ResponseCache = ResponseCache,
            VersionPolicy = VersionPolicy,
            DynamicBatching = DynamicBatching is { } batching && MaxBatchSize > 0
                ? new DynamicBatchingConfig(batching.MaxQueueDelayMicroseconds, [.. batching.PreferredBatchSizes.Order()])
                : null,
        };
    }

    private string[] ExecutionProviders()
    {
        // Triton tries a GPU accelerator first, then CUDA, then the CPU, whenever an instance may sit on a GPU;
        // naming TensorRT is taken as asking for the GPU unless every group is pinned to the CPU.
        bool tensorrt = GpuExecutionAccelerators.Contains("tensorrt", StringComparer.OrdinalIgnoreCase);
        bool cpuOnly = InstanceGroups.Count > 0 && InstanceGroups.All(g => g.Kind == TritonInstanceKind.Cpu);
        if (tensorrt && !cpuOnly)
        {
            return ["tensorrt", "cuda", "cpu"];
        }

        return InstanceGroups.Any(g => g.Kind == TritonInstanceKind.Gpu) ? ["cuda", "cpu"] : ["cpu"];
    }

    private void Compare(IReadOnlyList<TritonTensorConfig> configured, IReadOnlyList<TensorSpec> actual, string kind,
        List<string> problems)
    {
        foreach (TritonTensorConfig tensor in configured)
        {
            TensorSpec? spec = actual.FirstOrDefault(s => s.Name == tensor.Name);
            if (spec is null)
            {
                string names = string.Join(", ", actual.Select(s => $"'{s.Name}'"));
                problems.Add($"{FileName} names {kind} '{tensor.Name}', which the model does not have (its {kind}s: {names})");
                continue;
            }

            if (tensor.DataType is { } dataType && dataType != spec.DataType.Name())
            {
                problems.Add($"{FileName} {kind} '{tensor.Name}' has data_type {TritonDataTypes.TritonName(dataType)} " +
                    $"but the model's {kind} is {spec.DataType.Name()}");
            }

            // Triton hands the backend the reshaped tensor, so reshape, when given, is what the model must accept.
            long[]? declared = tensor.Reshape ?? (tensor.Dims.Length > 0 ? tensor.Dims : null);
            if (declared is not null && !ShapeMatches(declared, spec.Shape))
            {
                string what = tensor.Reshape is null ? "dims" : "reshape shape";
                string verb = tensor.Reshape is null ? "do" : "does";
                string batch = MaxBatchSize > 0 ? $" (max_batch_size {MaxBatchSize} adds the batch dimension)" : "";
                problems.Add($"{FileName} {kind} '{tensor.Name}' {what} {Format(declared)} {verb} not match " +
                    $"the model's shape {Format(spec.Shape)}{batch}");
            }
        }
    }

    private bool ShapeMatches(long[] declared, long[] model)
    {
        int batch = MaxBatchSize > 0 ? 1 : 0;
        if (model.Length != declared.Length + batch)
        {
            return false;
        }

        // Batching needs a model whose leading dimension is free; a fixed one could not take other batch sizes.
        if (batch == 1 && model[0] != -1)
        {
            return false;
        }

        for (int i = 0; i < declared.Length; i++)
        {
            long want = declared[i], have = model[i + batch];
            if (want != -1 && have != -1 && want != have)
            {
                return false;
            }
        }

        return true;
    }

    private static string Format(long[] shape) =>
        "[" + string.Join(",", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
}

/// <summary>
/// One input or output of a config.pbtxt. <see cref="DataType"/> is the protocol name ("FP32", "BYTES"), or null
/// when not given; <see cref="Dims"/> uses -1 for any size and is empty when not given.
/// </summary>
public sealed record TritonTensorConfig(string Name, string? DataType, long[] Dims, long[]? Reshape, string? LabelFilename);

/// <summary>Where an instance group runs, as Triton's KIND_ values say.</summary>
public enum TritonInstanceKind
{
    /// <summary>KIND_AUTO: on the GPU when there is one, else on the CPU.</summary>
    Auto,

    /// <summary>KIND_GPU.</summary>
    Gpu,

    /// <summary>KIND_CPU.</summary>
    Cpu,

    /// <summary>KIND_MODEL: wherever the model itself places its work.</summary>
    Model,
}

/// <summary>One instance_group: <see cref="Count"/> instances of <see cref="Kind"/>, on the listed GPUs (empty: all).</summary>
public sealed record TritonInstanceGroup(int Count, TritonInstanceKind Kind, int[] Gpus);

/// <summary>dynamic_batching: batch sizes to run at once when reached, and how long a request may wait for company.</summary>
public sealed record TritonDynamicBatching(int[] PreferredBatchSizes, long MaxQueueDelayMicroseconds);
