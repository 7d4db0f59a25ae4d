using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Quiver.Core.Models;
using Quiver.Core.Monitoring.Drift;

namespace Quiver.Server.Monitoring;

/// <summary>
/// Posts an event to the configured webhook whenever a watched model version's drift state changes (ok, warning,
/// drifting), with the features that moved most. A failed post is retried at the next check, so a receiver that was
/// down still hears about the current state.
/// </summary>
internal sealed partial class DriftNotifier : IAsyncDisposable
{
    private readonly ModelCatalog _catalog;
    private readonly Uri _webhook;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly Dictionary<Guid, DriftState> _announced = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public DriftNotifier(ModelCatalog catalog, Uri webhook, TimeSpan interval, ILogger logger)
    {
        _catalog = catalog;
        _webhook = webhook;
        _interval = interval;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        _http.Dispose();
        _stopping.Dispose();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                foreach (ServedModel model in _catalog.ReadyVersions(null, null, out _))
                {
                    if (model.Drift is { } drift)
                    {
                        await CheckAsync(model, drift.Report());
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Keyed by the load, so a reloaded version starts again from "ok".
    private async Task CheckAsync(ServedModel model, DriftReport report)
    {
        DriftState previous = _announced.GetValueOrDefault(model.LoadId, DriftState.Ok);
        if (report.State == previous)
        {
            return;
        }

        using var content = new ByteArrayContent(Event(model, report, previous));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            using HttpResponseMessage response = await _http.PostAsync(_webhook, content, _stopping.Token);
            response.EnsureSuccessStatusCode();
            _announced[model.LoadId] = report.State;
            Log.Announced(_logger, model.Name, model.Version, report.State.ToString());
        }
        catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !_stopping.IsCancellationRequested))
        {
            Log.WebhookFailed(_logger, _webhook.ToString(), e.Message);
        }
    }

    private static byte[] Event(ServedModel model, DriftReport report, DriftState previous)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("event", "drift_state_changed");
            w.WriteString("time", DateTimeOffset.UtcNow);
            w.WriteString("model", model.Name);
            w.WriteString("version", model.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("state", Name(report.State));
            w.WriteString("previous_state", Name(previous));
            w.WriteString("baseline", report.Baseline);
            w.WriteNumber("window_rows", report.WindowRows);
            w.WriteStartArray("top_features");
            foreach (FeatureDrift feature in report.Features.Where(f => f.State != DriftState.Ok).Take(5))
            {
                w.WriteStartObject();
                w.WriteString("feature", feature.Feature);
                w.WriteNumber("psi", Math.Round(feature.Psi, 6));
                w.WriteNumber("ks", Math.Round(feature.KolmogorovSmirnov, 6));
                w.WriteString("state", Name(feature.State));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string Name(DriftState state) => state.ToString().ToLowerInvariant();

    private static partial class Log
    {
        [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "Drift of model {Model} version {Version} is now {State}; webhook notified")]
        public static partial void Announced(ILogger logger, string model, long version, string state);

        [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "Drift webhook {Webhook} failed, will retry: {Error}")]
        public static partial void WebhookFailed(ILogger logger, string webhook, string error);
    }
}
