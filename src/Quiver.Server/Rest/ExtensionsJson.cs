using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Quiver.Core.Models;

namespace Quiver.Server.Rest;

/// <summary>JSON bodies of the protocol extensions: statistics, repository index.</summary>
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
            WriteDuration(writer, "cache_hit", default);
            WriteDuration(writer, "cache_miss", default);
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

    private static void WriteDuration(Utf8JsonWriter writer, string name, CountAndNanoseconds duration)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("count", duration.Count);
        writer.WriteNumber("ns", duration.Ns);
        writer.WriteEndObject();
    }
}
