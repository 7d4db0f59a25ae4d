using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Quiver.Core.Models;

namespace Quiver.Server.Rest;

/// <summary>JSON bodies of the protocol extensions: statistics, repository index, model configuration.</summary>
internal static class ExtensionsJson
{
    /// <summary>Triton's statistics extension: <c>{"model_stats": [...]}</c> with its field names.</summary>
    public static void WriteStatistics(IBufferWriter<byte> output, IReadOnlyList<ServedModel> models)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteStartArray("model_stats");
        foreach (ServedModel model in models)
        {
            StatisticsSnapshot stats = model.Statistics.Snapshot();
            writer.WriteStartObject();
            writer.WriteString("name", model.Name);
            writer.WriteString("version", model.Version.ToString(CultureInfo.InvariantCulture));
            writer.WriteNumber("last_inference", stats.LastInferenceMs);
            writer.WriteNumber("inference_count", stats.InferenceCount);
            writer.WriteNumber("execution_count", stats.ExecutionCount);
            writer.WriteStartObject("inference_stats");
            WriteDuration(writer, "success", stats.Success);
            WriteDuration(writer, "fail", stats.Fail);
            WriteDuration(writer, "queue", stats.Queue);
            WriteDuration(writer, "compute_input", stats.ComputeInput);
            WriteDuration(writer, "compute_infer", stats.ComputeInfer);
            WriteDuration(writer, "compute_output", stats.ComputeOutput);
            WriteDuration(writer, "cache_hit", stats.CacheHit);
            WriteDuration(writer, "cache_miss", stats.CacheMiss);
            writer.WriteEndObject();
            writer.WriteStartArray("batch_stats");
            foreach (BatchStatistics batch in stats.BatchStats)
            {
                writer.WriteStartObject();
                writer.WriteNumber("batch_size", batch.BatchSize);
                WriteDuration(writer, "compute_input", batch.ComputeInput);
                WriteDuration(writer, "compute_infer", batch.ComputeInfer);
                WriteDuration(writer, "compute_output", batch.ComputeOutput);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>The repository extension's index: one entry per version (or per model never loaded).</summary>
    public static void WriteIndex(IBufferWriter<byte> output, IReadOnlyList<(string Name, ModelVersionStatus[] Versions)> index, bool readyOnly)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartArray();
        foreach (var (name, versions) in index)
        {
            if (versions.Length == 0 && !readyOnly)
            {
                writer.WriteStartObject();
                writer.WriteString("name", name);
                writer.WriteEndObject();
            }

            foreach (ModelVersionStatus version in versions)
            {
                if (readyOnly && version.State != ModelState.Ready)
                {
                    continue;
                }

                writer.WriteStartObject();
                writer.WriteString("name", name);
                writer.WriteString("version", version.Version.ToString(CultureInfo.InvariantCulture));
                writer.WriteString("state", IndexState(version.State));
                if (version.Reason is not null)
                {
                    writer.WriteString("reason", version.Reason);
                }

                writer.WriteEndObject();
            }
        }

        writer.WriteEndArray();
    }

    /// <summary>Triton's names for a version's state in the repository index.</summary>
    public static string IndexState(ModelState state) => state == ModelState.Ready ? "READY" : "UNAVAILABLE";

    /// <summary>The model configuration extension: Triton's JSON form of a model's configuration.</summary>
    public static void WriteModelConfig(IBufferWriter<byte> output, TritonModelConfig config)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("name", config.Name);
        writer.WriteString("platform", config.Platform);
        writer.WriteString("backend", config.Backend);
        writer.WriteStartObject("version_policy");
        switch (config.VersionPolicy.Kind)
        {
            case TritonVersionPolicyKind.Latest:
                writer.WriteStartObject("latest");
                writer.WriteNumber("num_versions", config.VersionPolicy.NumVersions);
                writer.WriteEndObject();
                break;
            case TritonVersionPolicyKind.Specific:
                writer.WriteStartObject("specific");
                InferenceJson.WriteNumbers(writer, "versions", config.VersionPolicy.Versions);
                writer.WriteEndObject();
                break;
            default:
                writer.WriteStartObject("all");
                writer.WriteEndObject();
                break;
        }

        writer.WriteEndObject();
        writer.WriteNumber("max_batch_size", config.MaxBatchSize);
        WriteTensors(writer, "input", config.Inputs);
        WriteTensors(writer, "output", config.Outputs);
        writer.WriteStartArray("instance_group");
        foreach (TritonInstanceGroup group in config.InstanceGroups)
        {
            writer.WriteStartObject();
            writer.WriteNumber("count", group.Count);
            writer.WriteString("kind", "KIND_" + group.Kind.ToString().ToUpperInvariant());
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        if (config.DynamicBatching is { } batching)
        {
            writer.WriteStartObject("dynamic_batching");
            InferenceJson.WriteNumbers(writer, "preferred_batch_size", batching.PreferredBatchSizes.Select(b => (long)b));
            writer.WriteNumber("max_queue_delay_microseconds", batching.MaxQueueDelayMicroseconds);
            writer.WriteEndObject();
        }

        writer.WriteStartObject("parameters");
        foreach (var (key, value) in config.Parameters)
        {
            writer.WriteStartObject(key);
            writer.WriteString("string_value", value);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteTensors(Utf8JsonWriter writer, string property, IReadOnlyList<TritonTensorConfig> tensors)
    {
        writer.WriteStartArray(property);
        foreach (TritonTensorConfig tensor in tensors)
        {
            writer.WriteStartObject();
            writer.WriteString("name", tensor.Name);
            writer.WriteString("data_type", TritonDataTypes.TritonName(tensor.DataType ?? "INVALID"));
            InferenceJson.WriteNumbers(writer, "dims", tensor.Dims);
            if (tensor.Reshape is { } reshape)
            {
                writer.WriteStartObject("reshape");
                InferenceJson.WriteNumbers(writer, "shape", reshape);
                writer.WriteEndObject();
            }

            if (tensor.LabelFilename is not null)
            {
                writer.WriteString("label_filename", tensor.LabelFilename);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteDuration(Utf8JsonWriter writer, string name, CountAndNanoseconds duration)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("count", duration.Count);
        writer.WriteNumber("ns", duration.Ns);
        writer.WriteEndObject();
    }
}
