using System.Diagnostics;

namespace Quiver.Core.Monitoring;

/// <summary>
/// Quiver's spans (ActivitySource "Quiver"): one per inference with its model and version, and under it the
/// time queued and the time executing (with the batch it ran in). Stages measured on the scheduler's threads
/// are recorded afterwards with their real start and end, under the request's own span.
/// </summary>
public static class QuiverTracing
{
    public const string SourceName = "Quiver";

    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>Records a finished stage as a child of the current span; nothing when no one listens.</summary>
    public static void RecordStage(string name, long startTimestamp, long endTimestamp, params KeyValuePair<string, object?>[] tags)
    {
        if (!Source.HasListeners() || Activity.Current is not { } parent)
        {
            return;
        }

        using Activity? stage = Source.StartActivity(name, ActivityKind.Internal, parent.Context, tags, startTime: ToUtc(startTimestamp));
        stage?.SetEndTime(ToUtc(endTimestamp).UtcDateTime);
    }

    // Stopwatch timestamps to wall-clock time, through the time elapsed since.
    private static DateTimeOffset ToUtc(long timestamp) => DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(timestamp);
}
