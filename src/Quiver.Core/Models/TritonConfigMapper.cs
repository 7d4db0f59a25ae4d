using Quiver.Core.Tensors;

namespace Quiver.Core.Models;

/// <summary>
/// Turns the untyped tree of a config.pbtxt into a <see cref="TritonModelConfig"/>, collecting every wrong value
/// as an error and every field Quiver does not use as a warning, each with its line and column.
/// </summary>
internal sealed class TritonConfigMapper(string source)
{
    private static readonly string[] s_kinds = ["KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"];

    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    /// <summary>Wrong types or values of known fields; the config is unusable when there is any.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Fields that were ignored.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Reads the top-level message.</summary>
    public TritonModelConfig Read(TextProtoMessage root)
    {
        var config = new TritonModelConfig();
        foreach (TextProtoField field in root.Fields)
        {
            switch (field.Name)
            {
                case "name":
                    config = config with { Name = String(field, "name") };
                    break;
                case "platform":
                    config = config with { Platform = String(field, "platform") };
                    break;
                case "backend":
                    config = config with { Backend = String(field, "backend") };
                    break;
                case "max_batch_size":
                    config = config with { MaxBatchSize = (int)Integer(field, "max_batch_size", 0, int.MaxValue) };
                    break;
                case "input":
                    config = config with { Inputs = Tensors(field, "input") };
                    break;
                case "output":
                    config = config with { Outputs = Tensors(field, "output") };
                    break;
                case "dynamic_batching":
                    config = config with { DynamicBatching = DynamicBatching(field) };
                    break;
                case "instance_group":
                    config = config with { InstanceGroups = Messages(field, "instance_group").Select(InstanceGroup).ToArray() };
                    break;
                case "version_policy":
                    config = config with { VersionPolicy = VersionPolicy(field) };
                    break;
                case "optimization":
                    config = Optimization(field, config);
                    break;
                case "parameters":
                    config = config with { Parameters = Parameters(field) };
                    break;
                case "response_cache":
                    config = config with { ResponseCache = ResponseCache(field) };
                    break;
                default:
                    Unknown(field, "");
                    break;
            }
        }

        CheckPreferredBatchSizes(config);
        return config;
    }

    private TritonTensorConfig[] Tensors(TextProtoField field, string kind)
    {
        var tensors = new List<TritonTensorConfig>();
        foreach (TextProtoMessage message in Messages(field, kind))
        {
            TritonTensorConfig? tensor = Tensor(message, kind);
            if (tensor is null)
            {
                continue;
            }

            if (tensors.Any(t => t.Name == tensor.Name))
            {
                Error(message.Line, message.Column, $"'{kind}' lists '{tensor.Name}' more than once");
            }

            tensors.Add(tensor);
        }

        return tensors.ToArray();
    }

    private TritonTensorConfig? Tensor(TextProtoMessage message, string kind)
    {
        string? name = null, dataType = null, labels = null;
        long[] dims = [];
        long[]? reshape = null;
        foreach (TextProtoField field in message.Fields)
        {
            string path = $"{kind}.{field.Name}";
            switch (field.Name)
            {
                case "name":
                    name = String(field, path);
                    break;
                case "data_type":
                    dataType = DataType(field, path);
                    break;
                case "dims":
                    dims = Dims(field, path);
                    break;
                case "reshape":
                    reshape = Reshape(field, path);
                    break;
                case "label_filename" when kind == "output":
                    labels = String(field, path);
                    break;
                default:
                    Unknown(field, kind + ".");
                    break;
            }
        }

        if (string.IsNullOrEmpty(name))
        {
            Error(message.Line, message.Column, $"'{kind}' needs a 'name'");
            return null;
        }

        return new TritonTensorConfig(name, dataType, dims, reshape, labels);
    }

    private string? DataType(TextProtoField field, string path)
    {
        TextProtoValue? value = One(field, path);
        if (value is null)
        {
            return null;
        }

        if (value.Kind == TextProtoValueKind.Identifier && TritonDataTypes.TryGetProtocolName(value.Text, out string? name))
        {
            return name;
        }

        Error(value, $"'{path}' must be one of {string.Join(", ", TritonDataTypes.TritonNames)}, got {value}");
        return null;
    }

    private long[] Dims(TextProtoField field, string path)
    {
        var dims = new List<long>();
        foreach (TextProtoValue value in field.Values)
        {
            if (value.TryGetInt64(out long dim) && dim >= -1)
            {
                dims.Add(dim);
            }
            else
            {
                Error(value, $"'{path}' must hold sizes >= 0, or -1 for any size, got {value}");
            }
        }

        return dims.ToArray();
    }

    private long[]? Reshape(TextProtoField field, string path)
    {
        TextProtoMessage? message = Message(field, path);
        if (message is null)
        {
            return null;
        }

        long[] shape = [];
        foreach (TextProtoField inner in message.Fields)
        {
            if (inner.Name == "shape")
            {
                shape = Dims(inner, path + ".shape");
            }
            else
            {
                Unknown(inner, path + ".");
            }
        }

        return shape;
    }

    private TritonDynamicBatching? DynamicBatching(TextProtoField field)
    {
        TextProtoMessage? message = Message(field, "dynamic_batching");
        if (message is null)
        {
            return null;
        }

        int[] preferred = [];
        long delay = 0;
        foreach (TextProtoField inner in message.Fields)
        {
            switch (inner.Name)
            {
                case "preferred_batch_size":
                    preferred = Integers(inner, "dynamic_batching.preferred_batch_size", 1, int.MaxValue)
                        .Select(v => (int)v).ToArray();
                    break;
                case "max_queue_delay_microseconds":
                    delay = Integer(inner, "dynamic_batching.max_queue_delay_microseconds", 0, long.MaxValue);
                    break;
                default:
                    Unknown(inner, "dynamic_batching.");
                    break;
            }
        }

        return new TritonDynamicBatching(preferred, delay);
    }

    private bool ResponseCache(TextProtoField field)
    {
        bool enable = false;
        foreach (TextProtoField inner in Message(field, "response_cache")?.Fields ?? [])
        {
            if (inner.Name == "enable")
            {
                enable = Identifier(inner, "response_cache.enable", ["true", "false"]) == "true";
            }
            else
            {
                Unknown(inner, "response_cache.");
            }
        }

        return enable;
    }

    private void CheckPreferredBatchSizes(TritonModelConfig config)
    {
        if (config.DynamicBatching is not { } batching || config.MaxBatchSize == 0)
        {
            return;
        }

        foreach (int size in batching.PreferredBatchSizes.Where(s => s > config.MaxBatchSize))
        {
            _errors.Add($"{source}: 'dynamic_batching.preferred_batch_size' {size} is larger than max_batch_size {config.MaxBatchSize}");
        }
    }

    private TritonInstanceGroup InstanceGroup(TextProtoMessage message)
    {
        int count = 1;
        var kind = TritonInstanceKind.Auto;
        int[] gpus = [];
        TextProtoValue? gpusValue = null;
        foreach (TextProtoField field in message.Fields)
        {
            switch (field.Name)
            {
                case "count":
                    count = (int)Integer(field, "instance_group.count", 1, int.MaxValue);
                    break;
                case "kind":
                    kind = (TritonInstanceKind)Math.Max(0, Array.IndexOf(s_kinds, Identifier(field, "instance_group.kind", s_kinds)));
                    break;
                case "gpus":
                    gpus = Integers(field, "instance_group.gpus", 0, int.MaxValue).Select(v => (int)v).ToArray();
                    gpusValue = field.Values.FirstOrDefault();
                    break;
                case "name":
                    // Only labels the group in Triton's logs; nothing to apply.
                    String(field, "instance_group.name");
                    break;
                default:
                    Unknown(field, "instance_group.");
                    break;
            }
        }

        if (gpusValue is not null && kind is TritonInstanceKind.Cpu or TritonInstanceKind.Model)
        {
            Error(gpusValue, $"'instance_group.gpus' cannot be used with {s_kinds[(int)kind]}");
        }

        return new TritonInstanceGroup(count, kind, gpus);
    }

    private TritonVersionPolicy VersionPolicy(TextProtoField field)
    {
        TextProtoMessage? message = Message(field, "version_policy");
        if (message is null)
        {
            return TritonVersionPolicy.Default;
        }

        TritonVersionPolicy policy = TritonVersionPolicy.Default;
        int choices = 0;
        foreach (TextProtoField inner in message.Fields)
        {
            string path = "version_policy." + inner.Name;
            if (inner.Name is "latest" or "all" or "specific" && ++choices > 1)
            {
                Error(inner.Line, inner.Column, "'version_policy' must choose only one of latest, all or specific");
            }

            switch (inner.Name)
            {
                case "latest":
                    int latest = 1;
                    foreach (TextProtoField setting in Message(inner, path)?.Fields ?? [])
                    {
                        if (setting.Name == "num_versions")
                        {
                            latest = (int)Integer(setting, path + ".num_versions", 1, int.MaxValue);
                        }
                        else
                        {
                            Unknown(setting, path + ".");
                        }
                    }

                    policy = new TritonVersionPolicy(TritonVersionPolicyKind.Latest, latest, []);
                    break;
                case "all":
                    foreach (TextProtoField setting in Message(inner, path)?.Fields ?? [])
                    {
                        Unknown(setting, path + ".");
                    }

                    policy = new TritonVersionPolicy(TritonVersionPolicyKind.All, 0, []);
                    break;
                case "specific":
                    policy = Specific(inner, path);
                    break;
                default:
                    Unknown(inner, "version_policy.");
                    break;
            }
        }

        return policy;
    }

    private TritonVersionPolicy Specific(TextProtoField field, string path)
    {
        TextProtoMessage? message = Message(field, path);
        if (message is null)
        {
            return TritonVersionPolicy.Default;
        }

        long[] versions = [];
        foreach (TextProtoField setting in message.Fields)
        {
            if (setting.Name == "versions")
            {
                versions = Integers(setting, path + ".versions", 0, long.MaxValue);
            }
            else
            {
                Unknown(setting, path + ".");
            }
        }

        if (versions.Length == 0)
        {
            Error(message.Line, message.Column, $"'{path}' must list at least one version, e.g. versions: [ 1, 3 ]");
        }

        return new TritonVersionPolicy(TritonVersionPolicyKind.Specific, 0, versions);
    }

    private TritonModelConfig Optimization(TextProtoField field, TritonModelConfig config)
    {
        foreach (TextProtoField inner in Message(field, "optimization")?.Fields ?? [])
        {
            switch (inner.Name)
            {
                case "graph":
                    foreach (TextProtoField setting in Message(inner, "optimization.graph")?.Fields ?? [])
                    {
                        if (setting.Name == "level")
                        {
                            long level = Integer(setting, "optimization.graph.level", int.MinValue, int.MaxValue);
                            config = config with { GraphOptimizationLevel = (int)level };
                        }
                        else
                        {
                            Unknown(setting, "optimization.graph.");
                        }
                    }

                    break;
                case "execution_accelerators":
                    foreach (TextProtoField list in Message(inner, "optimization.execution_accelerators")?.Fields ?? [])
                    {
                        string path = "optimization.execution_accelerators." + list.Name;
                        switch (list.Name)
                        {
                            case "gpu_execution_accelerator":
                                config = config with { GpuExecutionAccelerators = Accelerators(list, path) };
                                break;
                            case "cpu_execution_accelerator":
                                config = config with { CpuExecutionAccelerators = Accelerators(list, path) };
                                break;
                            default:
                                Unknown(list, "optimization.execution_accelerators.");
                                break;
                        }
                    }

                    break;
                default:
                    Unknown(inner, "optimization.");
                    break;
            }
        }

        return config;
    }

    private string[] Accelerators(TextProtoField field, string path)
    {
        var names = new List<string>();
        foreach (TextProtoMessage message in Messages(field, path))
        {
            string name = "";
            foreach (TextProtoField setting in message.Fields)
            {
                if (setting.Name == "name")
                {
                    name = String(setting, path + ".name");
                }
                else
                {
                    // Accelerator parameters (e.g. TensorRT's precision_mode) are not passed on, so say they are dropped.
                    Unknown(setting, path + ".");
                }
            }

            if (name.Length == 0)
            {
                Error(message.Line, message.Column, $"'{path}' needs a 'name', e.g. name: \"tensorrt\"");
            }
            else
            {
                names.Add(name);
            }
        }

        return names.ToArray();
    }

    private Dictionary<string, string> Parameters(TextProtoField field)
    {
        var parameters = new Dictionary<string, string>();
        foreach (TextProtoMessage entry in Messages(field, "parameters"))
        {
            string? key = null;
            string value = "";
            foreach (TextProtoField inner in entry.Fields)
            {
                switch (inner.Name)
                {
                    case "key":
                        key = String(inner, "parameters.key");
                        break;
                    case "value":
                        foreach (TextProtoField setting in Message(inner, "parameters.value")?.Fields ?? [])
                        {
                            if (setting.Name == "string_value")
                            {
                                value = String(setting, "parameters.value.string_value");
                            }
                            else
                            {
                                Unknown(setting, "parameters.value.");
                            }
                        }

                        break;
                    default:
                        Unknown(inner, "parameters.");
                        break;
                }
            }

            if (key is null)
            {
                Error(entry.Line, entry.Column, "'parameters' entry needs a 'key'");
            }
            else if (!parameters.TryAdd(key, value))
            {
                Error(entry.Line, entry.Column, $"'parameters' sets '{key}' more than once");
            }
        }

        return parameters;
    }

    /// <summary>The single value of a field that is not repeated; null (after an error) when there is none or several.</summary>
    private TextProtoValue? One(TextProtoField field, string path)
    {
        if (field.Values.Count == 1)
        {
            return field.Values[0];
        }

        if (field.Values.Count == 0)
        {
            Error(field.Line, field.Column, $"'{path}' needs a value, not an empty list");
        }
        else
        {
            Error(field.Values[1], $"'{path}' is set more than once");
        }

        return null;
    }

    private string String(TextProtoField field, string path)
    {
        TextProtoValue? value = One(field, path);
        if (value is null)
        {
            return "";
        }

        if (value.Kind != TextProtoValueKind.String)
        {
            Error(value, $"'{path}' must be a quoted string, got {value}");
            return "";
        }

        return value.Text;
    }

    private long Integer(TextProtoField field, string path, long minimum, long maximum)
    {
        TextProtoValue? value = One(field, path);
        return value is null ? minimum : Integer(value, path, minimum, maximum);
    }

    private long[] Integers(TextProtoField field, string path, long minimum, long maximum) =>
        field.Values.Select(v => Integer(v, path, minimum, maximum)).ToArray();

    private long Integer(TextProtoValue value, string path, long minimum, long maximum)
    {
        if (value.TryGetInt64(out long number) && number >= minimum && number <= maximum)
        {
            return number;
        }

        string range = minimum == int.MinValue ? "a 32-bit integer"
            : maximum is int.MaxValue or long.MaxValue ? $"an integer >= {minimum}"
            : $"an integer from {minimum} to {maximum}";
        Error(value, $"'{path}' must be {range}, got {value}");
        return minimum;
    }

    private string Identifier(TextProtoField field, string path, string[] allowed)
    {
        TextProtoValue? value = One(field, path);
        if (value is null)
        {
            return allowed[0];
        }

        if (value.Kind != TextProtoValueKind.Identifier || !allowed.Contains(value.Text))
        {
            Error(value, $"'{path}' must be one of {string.Join(", ", allowed)}, got {value}");
            return allowed[0];
        }

        return value.Text;
    }

    private TextProtoMessage? Message(TextProtoField field, string path)
    {
        TextProtoValue? value = One(field, path);
        if (value is null)
        {
            return null;
        }

        if (value.Message is null)
        {
            Error(value, $"'{path}' must be a message in braces, got {value}");
        }

        return value.Message;
    }

    private IEnumerable<TextProtoMessage> Messages(TextProtoField field, string path)
    {
        foreach (TextProtoValue value in field.Values)
        {
            if (value.Message is null)
            {
                Error(value, $"'{path}' must be a message in braces, got {value}");
            }
            else
            {
                yield return value.Message;
            }
        }
    }

    private void Unknown(TextProtoField field, string prefix) =>
        _warnings.Add($"{source} line {field.Line}, column {field.Column}: unknown field '{prefix}{field.Name}' ignored");

    private void Error(TextProtoValue at, string message) => Error(at.Line, at.Column, message);

    private void Error(int line, int column, string message) =>
        _errors.Add($"{source} line {line}, column {column}: {message}");
}

/// <summary>Triton's TYPE_ names and the protocol names Quiver uses for the same datatypes.</summary>
public static class TritonDataTypes
{
    /// <summary>Every TYPE_ name Quiver accepts; TYPE_INVALID is not among them.</summary>
    public static IEnumerable<string> TritonNames => DataTypes.Names.Select(TritonName);

    /// <summary>The protocol name for a TYPE_ name: TYPE_FP32 → FP32, TYPE_STRING → BYTES.</summary>
    public static bool TryGetProtocolName(string tritonName, out string? protocolName)
    {
        protocolName = null;
        if (!tritonName.StartsWith("TYPE_", StringComparison.Ordinal))
        {
            return false;
        }

        string name = tritonName == "TYPE_STRING" ? "BYTES" : tritonName["TYPE_".Length..];
        // BYTES is only ever spelled TYPE_STRING in a config, so TYPE_BYTES is not accepted.
        if (tritonName == "TYPE_BYTES" || !DataTypes.TryParse(name, out _))
        {
            return false;
        }

        protocolName = name;
        return true;
    }

    /// <summary>The TYPE_ name for a protocol name: FP32 → TYPE_FP32, BYTES → TYPE_STRING.</summary>
    public static string TritonName(string protocolName) =>
        protocolName == "BYTES" ? "TYPE_STRING" : "TYPE_" + protocolName;
}
