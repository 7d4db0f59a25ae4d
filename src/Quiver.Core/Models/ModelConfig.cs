using System.Text.Json;

namespace Quiver.Core.Models;

/// <summary>
/// Per-model settings from the optional <c>config.json</c> beside the version folders.
/// Immutable, so a reload can swap it atomically.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>The file name looked for in a model's folder.</summary>
    public const string FileName = "config.json";

    /// <summary>Largest first dimension a request may have; 0 (the default) means the model is not batched.</summary>
    public int MaxBatchSize { get; init; }

    /// <summary>ONNX Runtime sessions serving this model in parallel. Defaults to 1.</summary>
    public int InstanceCount { get; init; } = 1;

    /// <summary>Threads inside one operator; 0 (the default) shares the cores evenly among instances.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads across operators; 0 (the default) lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>Execution providers in priority order: "cpu", "cuda", "tensorrt". Defaults to CPU only.</summary>
    public IReadOnlyList<string> ExecutionProviders { get; init; } = ["cpu"];

    /// <summary>Whether a provider that cannot be loaded is skipped (true, the default) or fails the model.</summary>
    public bool FallbackToCpu { get; init; } = true;

    /// <summary>
    /// Whether the model must run on a GPU provider: when none of <see cref="ExecutionProviders"/> but CPU could be
    /// loaded, the version fails to load instead of serving slowly on CPU. Defaults to false.
    /// </summary>
    public bool RequireGpu { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's idle intra-op threads spin (lower latency, burns CPU). Null (the default) derives it: on
    /// with one instance, off with several, whose spinning threads would take cores from each other.
    /// </summary>
    public bool? AllowSpinning { get; init; }

    /// <summary>Label files per output name, relative to the model folder, one label per line.</summary>
    public IReadOnlyDictionary<string, string> LabelFiles { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Dynamic batching: requests queued together are run as one batch along the first dimension. Null
    /// (the default) runs each request on its own. Needs <see cref="MaxBatchSize"/> &gt; 0.
    /// </summary>
    public DynamicBatchingConfig? DynamicBatching { get; init; }

    /// <summary>Requests that may wait for an instance; one more gets "queue full" (HTTP 429). Defaults to 1024.</summary>
    public int MaxQueueSize { get; init; } = 1024;

    /// <summary>Whether identical requests are answered from the result cache (deterministic models only). Defaults to false.</summary>
    public bool ResponseCache { get; init; }

    /// <summary>
    /// Whether each instance runs one request before the version serves (zeros with dynamic dimensions 1, or
    /// <see cref="WarmupSample"/>), so the first client does not pay for ONNX Runtime's first-run allocations. Defaults to true.
    /// </summary>
    public bool Warmup { get; init; } = true;

    /// <summary>
    /// The inputs the warm-up run uses instead of zeros (config.json's <c>"warmup": {"inputs": {...}}</c>), checked
    /// against the model's inputs when it loads; null (the default) runs zeros.
    /// </summary>
    public WarmupSample? WarmupSample { get; init; }

    /// <summary>Drift watching of inputs and outputs; null (the default) watches nothing.</summary>
    public Monitoring.Drift.DriftConfig? Drift { get; init; }

    /// <summary>Sampled logging of requests and responses to JSON lines; null (the default) logs none.</summary>
    public Monitoring.Payloads.PayloadLoggingConfig? PayloadLogging { get; init; }

    /// <summary>
    /// Inputs whose values are never written in clear: payload logs, batch error files, audit details and error
    /// messages show a keyed pseudonym instead, and drift watching leaves them out. Defaults to none.
    /// </summary>
    public IReadOnlyList<string> SensitiveInputs { get; init; } = [];

    /// <summary>Request parameters treated like <see cref="SensitiveInputs"/>. Defaults to none.</summary>
    public IReadOnlyList<string> SensitiveParameters { get; init; } = [];

    /// <summary>
    /// Most tensor elements one request may carry, over all its inputs; more gets 400. 0 (the default) leaves only
    /// the server's own decoding limits.
    /// </summary>
    public long MaxTensorElements { get; init; }

    /// <summary>Which registered versions are loaded; null (the default without a config.pbtxt) loads all of them.</summary>
    public TritonVersionPolicy? VersionPolicy { get; init; }

    /// <summary>
    /// The tenant that owns a repository model (set when the model is first registered); null (the default) shares it
    /// with every tenant.
    /// </summary>
    public string? Tenant { get; init; }

    /// <summary>
    /// The regions the model may be loaded and served in (data residency), e.g. ["eu-west-1", "eu-central-1"];
    /// null (the default) for anywhere. Recorded in the registry when the version is registered.
    /// </summary>
    public IReadOnlyList<string>? AllowedRegions { get; init; }

    /// <summary>The defaults, used when a model has no config.json.</summary>
    public static ModelConfig Default { get; } = new();

    /// <summary>Reads a config.json; every problem found is reported in one exception.</summary>
    public static ModelConfig Parse(string json) => Parse(json, Default);

    /// <summary>Reads a config.json whose settings replace those of <paramref name="defaults"/>; the rest are kept.</summary>
    public static ModelConfig Parse(string json, ModelConfig defaults)
    {
        var errors = new List<string>();
        ModelConfig config = defaults;
        string[] legacySensitive = [];
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"config.json is not valid JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelConfigException("config.json must be a JSON object.");
        }

        foreach (JsonProperty property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "max_batch_size":
                    config = config with { MaxBatchSize = ReadInt(property, 0, errors) };
                    break;
                case "instance_count":
                    config = config with { InstanceCount = ReadInt(property, 1, errors) };
                    break;
                case "intra_op_threads":
                    config = config with { IntraOpThreads = ReadInt(property, 0, errors) };
                    break;
                case "inter_op_threads":
                    config = config with { InterOpThreads = ReadInt(property, 0, errors) };
                    break;
                case "execution_providers":
                    config = config with { ExecutionProviders = ReadStrings(property, errors) };
                    break;
                case "fallback_to_cpu":
                    if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    {
                        config = config with { FallbackToCpu = property.Value.GetBoolean() };
                    }
                    else
                    {
                        errors.Add("'fallback_to_cpu' must be true or false");
                    }

                    break;
                case "require_gpu":
                    config = config with { RequireGpu = ReadBool(property, errors) ?? config.RequireGpu };
                    break;
                case "allow_spinning":
                    config = config with { AllowSpinning = ReadBool(property, errors) };
                    break;
                case "label_files":
                    config = config with { LabelFiles = ReadStringMap(property, errors) };
                    break;
                case "dynamic_batching":
                    config = config with { DynamicBatching = ReadDynamicBatching(property, errors) };
                    break;
                case "max_queue_size":
                    config = config with { MaxQueueSize = ReadInt(property, 1, errors) };
                    break;
                case "drift":
                    config = config with { Drift = ReadDrift(property, errors) };
                    break;
                case "version_policy":
                    config = config with { VersionPolicy = ReadVersionPolicy(property, errors) };
                    break;
                case "payload_logging":
                    config = config with { PayloadLogging = ReadPayloadLogging(property, errors, out legacySensitive) };
                    break;
                case "sensitive_inputs":
                    config = config with { SensitiveInputs = ReadNames(property, errors) };
                    break;
                case "sensitive_parameters":
                    config = config with { SensitiveParameters = ReadNames(property, errors) };
                    break;
                case "max_tensor_elements":
                    config = config with { MaxTensorElements = ReadLong(property, 0, errors) };
                    break;
                case "warmup":
                    if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    {
                        config = config with { Warmup = property.Value.GetBoolean(), WarmupSample = null };
                    }
                    else if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        config = config with { Warmup = true, WarmupSample = WarmupSample.Parse(property.Value, errors) };
                    }
                    else
                    {
                        errors.Add("'warmup' must be true, false or a sample such as {\"inputs\": {\"input\": [[0.5, 1.5]]}}");
                    }

                    break;
                case "response_cache":
                    if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    {
                        config = config with { ResponseCache = property.Value.GetBoolean() };
                    }
                    else
                    {
                        errors.Add("'response_cache' must be true or false");
                    }

                    break;
                case "tenant" when property.Value.ValueKind == JsonValueKind.String && Security.TenantNames.IsValid(property.Value.GetString()!):
                    config = config with { Tenant = property.Value.GetString() };
                    break;
                case "tenant":
                    errors.Add("'tenant' must be a tenant name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");
                    break;
                case "allowed_regions":
                    try
                    {
                        config = property.Value.ValueKind == JsonValueKind.Array && property.Value.GetArrayLength() > 0
                            && property.Value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String)
                            ? config with { AllowedRegions = Lifecycle.DataResidency.Validate(property.Value.EnumerateArray().Select(v => v.GetString()!)) }
                            : throw new FormatException("'allowed_regions' must be a non-empty array of region names, e.g. [\"eu-west-1\", \"eu-central-1\"]");
                    }
                    catch (FormatException e)
                    {
                        errors.Add(e.Message.TrimEnd('.'));
                    }

                    break;
                default:
                    errors.Add($"unknown setting '{property.Name}' (known: max_batch_size, instance_count, intra_op_threads, inter_op_threads, " +
                        "execution_providers, fallback_to_cpu, require_gpu, allow_spinning, label_files, dynamic_batching, max_queue_size, response_cache, warmup, drift, " +
                        "version_policy, payload_logging, tenant, allowed_regions, sensitive_inputs, sensitive_parameters, max_tensor_elements)");
                    break;
            }
        }

        // payload_logging.sensitive_inputs, the older spelling, still marks those inputs sensitive everywhere.
        if (legacySensitive.Length > 0)
        {
            config = config with { SensitiveInputs = [.. config.SensitiveInputs.Union(legacySensitive, StringComparer.Ordinal)] };
        }

        if (config.RequireGpu && !config.ExecutionProviders.Any(p => !p.Equals("cpu", StringComparison.OrdinalIgnoreCase)))
        {
            errors.Add("'require_gpu' needs a GPU provider in 'execution_providers', e.g. [\"tensorrt\", \"cuda\", \"cpu\"]");
        }

        if (config.DynamicBatching is not null && config.MaxBatchSize == 0)
        {
            errors.Add("'dynamic_batching' needs 'max_batch_size' > 0: the batch is formed along the first dimension");
        }

        if (errors.Count > 0)
        {
            throw new ModelConfigException("config.json: " + string.Join("; ", errors) + ".");
        }

        return config;
    }

    // "all", {"latest": N} or {"specific": [1, 3]}, the JSON forms of config.pbtxt's version_policy.
    private static TritonVersionPolicy? ReadVersionPolicy(JsonProperty property, List<string> errors)
    {
        const string Expected = "'version_policy' must be \"all\", {\"latest\": N} with N >= 1, or {\"specific\": [versions]}";
        JsonElement value = property.Value;
        if (value.ValueKind == JsonValueKind.String && value.GetString() == "all")
        {
            return new TritonVersionPolicy(TritonVersionPolicyKind.All, 0, []);
        }

        if (value.ValueKind == JsonValueKind.Object && value.EnumerateObject().Count() == 1)
        {
            JsonProperty only = value.EnumerateObject().First();
            if (only.Name == "latest" && only.Value.TryGetInt32(out int count) && count >= 1)
            {
                return new TritonVersionPolicy(TritonVersionPolicyKind.Latest, count, []);
            }

            if (only.Name == "specific" && only.Value.ValueKind == JsonValueKind.Array
                && only.Value.EnumerateArray().All(v => v.TryGetInt64(out long n) && n >= 1))
            {
                return new TritonVersionPolicy(TritonVersionPolicyKind.Specific, 0, [.. only.Value.EnumerateArray().Select(v => v.GetInt64())]);
            }
        }

        errors.Add(Expected);
        return null;
    }

    private static Monitoring.Drift.DriftConfig? ReadDrift(JsonProperty property, List<string> errors)
    {
        var drift = new Monitoring.Drift.DriftConfig();
        if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return property.Value.GetBoolean() ? drift : null;
        }

        if (property.Value.ValueKind != JsonValueKind.Object)
        {
            errors.Add("'drift' must be true, false or an object such as {\"baseline_rows\": 1000, \"window_rows\": 1000}");
            return null;
        }

        foreach (JsonProperty setting in property.Value.EnumerateObject())
        {
            switch (setting.Name)
            {
                case "baseline_rows":
                    drift = drift with { BaselineRows = ReadInt(setting, 10, errors) };
                    break;
                case "window_rows":
                    drift = drift with { WindowRows = ReadInt(setting, 10, errors) };
                    break;
                case "minimum_window_rows":
                    drift = drift with { MinimumWindowRows = ReadInt(setting, 1, errors) };
                    break;
                case "psi_warning" or "psi_drift" when setting.Value.TryGetDouble(out double threshold) && threshold > 0:
                    drift = setting.Name == "psi_warning" ? drift with { PsiWarning = threshold } : drift with { PsiDrift = threshold };
                    break;
                case "psi_warning" or "psi_drift":
                    errors.Add($"'drift.{setting.Name}' must be a positive number");
                    break;
                default:
                    errors.Add($"unknown setting 'drift.{setting.Name}' (known: baseline_rows, window_rows, minimum_window_rows, psi_warning, psi_drift)");
                    break;
            }
        }

        return drift;
    }

    // {"sample_rate": 0.1, "max_payload_bytes": 65536}; "sensitive_inputs" here is the older place of the model-level list.
    private static Monitoring.Payloads.PayloadLoggingConfig? ReadPayloadLogging(JsonProperty property, List<string> errors, out string[] sensitive)
    {
        sensitive = [];
        if (property.Value.ValueKind != JsonValueKind.Object)
        {
            errors.Add("'payload_logging' must be an object, e.g. {\"sample_rate\": 0.1, \"max_payload_bytes\": 65536}");
            return null;
        }

        var logging = new Monitoring.Payloads.PayloadLoggingConfig();
        foreach (JsonProperty setting in property.Value.EnumerateObject())
        {
            switch (setting.Name)
            {
                case "sample_rate" when setting.Value.TryGetDouble(out double rate) && rate is > 0 and <= 1:
                    logging = logging with { SampleRate = rate };
                    break;
                case "sample_rate":
                    errors.Add("'payload_logging.sample_rate' must be a number in (0, 1], the share of requests logged");
                    break;
                case "max_payload_bytes":
                    logging = logging with { MaxPayloadBytes = ReadInt(setting, 1, errors) };
                    break;
                case "sensitive_inputs":
                    sensitive = ReadNames(setting, errors);
                    break;
                default:
                    errors.Add($"unknown setting 'payload_logging.{setting.Name}' (known: sample_rate, max_payload_bytes, sensitive_inputs)");
                    break;
            }
        }

        return logging;
    }

    private static DynamicBatchingConfig? ReadDynamicBatching(JsonProperty property, List<string> errors)
    {
        if (property.Value.ValueKind != JsonValueKind.Object)
        {
            errors.Add("'dynamic_batching' must be an object, e.g. {\"max_queue_delay_microseconds\": 100, \"preferred_batch_size\": [8, 16]}");
            return null;
        }

        var batching = new DynamicBatchingConfig(0, []);
        foreach (JsonProperty setting in property.Value.EnumerateObject())
        {
            switch (setting.Name)
            {
                case "max_queue_delay_microseconds":
                    batching = batching with { MaxQueueDelayMicroseconds = ReadInt(setting, 0, errors) };
                    break;
                case "preferred_batch_size":
                    if (setting.Value.ValueKind == JsonValueKind.Array &&
                        setting.Value.EnumerateArray().All(e => e.TryGetInt32(out int size) && size > 0))
                    {
                        batching = batching with { PreferredBatchSizes = setting.Value.EnumerateArray().Select(e => e.GetInt32()).Order().ToArray() };
                    }
                    else
                    {
                        errors.Add("'dynamic_batching.preferred_batch_size' must be an array of positive integers");
                    }

                    break;
                default:
                    errors.Add($"unknown setting 'dynamic_batching.{setting.Name}' (known: max_queue_delay_microseconds, preferred_batch_size)");
                    break;
            }
        }

        return batching;
    }

    private static bool? ReadBool(JsonProperty property, List<string> errors)
    {
        if (property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return property.Value.GetBoolean();
        }

        errors.Add($"'{property.Name}' must be true or false");
        return null;
    }

    private static int ReadInt(JsonProperty property, int minimum, List<string> errors)
    {
        if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out int value) && value >= minimum)
        {
            return value;
        }

        errors.Add($"'{property.Name}' must be an integer >= {minimum}, got {property.Value.GetRawText()}");
        return minimum;
    }

    private static long ReadLong(JsonProperty property, long minimum, List<string> errors)
    {
        if (property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out long value) && value >= minimum)
        {
            return value;
        }

        errors.Add($"'{property.Name}' must be an integer >= {minimum}, got {property.Value.GetRawText()}");
        return minimum;
    }

    // Input or parameter names: an array of strings, possibly empty.
    private static string[] ReadNames(JsonProperty property, List<string> errors)
    {
        if (property.Value.ValueKind == JsonValueKind.Array && property.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            return [.. property.Value.EnumerateArray().Select(e => e.GetString()!)];
        }

        errors.Add($"'{property.Name}' must be an array of names, e.g. [\"ssn\"]");
        return [];
    }

    private static string[] ReadStrings(JsonProperty property, List<string> errors)
    {
        if (property.Value.ValueKind == JsonValueKind.Array &&
            property.Value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            string[] values = property.Value.EnumerateArray().Select(e => e.GetString()!).ToArray();
            if (values.Length > 0)
            {
                return values;
            }
        }

        errors.Add($"'{property.Name}' must be a non-empty array of strings, e.g. [\"cuda\", \"cpu\"]");
        return ["cpu"];
    }

    private static Dictionary<string, string> ReadStringMap(JsonProperty property, List<string> errors)
    {
        var map = new Dictionary<string, string>();
        if (property.Value.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"'{property.Name}' must map output names to file names, e.g. {{\"probabilities\": \"labels.txt\"}}");
            return map;
        }

        foreach (JsonProperty entry in property.Value.EnumerateObject())
        {
            if (entry.Value.ValueKind == JsonValueKind.String)
            {
                map[entry.Name] = entry.Value.GetString()!;
            }
            else
            {
                errors.Add($"'{property.Name}.{entry.Name}' must be a file name");
            }
        }

        return map;
    }
}

/// <summary>A config.json or config.pbtxt that cannot be used, with every problem in the message.</summary>
public sealed class ModelConfigException(string message) : Exception(message);

/// <summary>How requests are gathered into batches: how long the first may wait for company, and the sizes worth waiting for.</summary>
public sealed record DynamicBatchingConfig(long MaxQueueDelayMicroseconds, int[] PreferredBatchSizes);
