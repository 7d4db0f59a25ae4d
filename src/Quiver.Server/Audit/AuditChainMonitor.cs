using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Quiver.Core.Security.Audit;

namespace Quiver.Server.Audit;

/// <summary>
/// Verifies the audit chain at start and then every interval, and publishes the result as
/// <c>quiver_audit_chain_valid</c> (1 intact, 0 tampered) and <c>quiver_audit_entries</c> for alerting. A verification
/// that cannot run (database down) keeps the last result and is logged.
/// </summary>
internal sealed partial class AuditChainMonitor : IAsyncDisposable
{
    private readonly AuditLog _log;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;
    private readonly SemaphoreSlim _gate = new(1, 1);

    public AuditChainMonitor(AuditLog log, Meter meter, TimeSpan interval, ILogger logger, TimeProvider? time = null)
    {
        _log = log;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        meter.CreateObservableGauge("quiver_audit_chain_valid", () => Last is { } last ? [new Measurement<int>(last.Result.Valid ? 1 : 0)] : Array.Empty<Measurement<int>>(),
            description: "1 when the last verification of the audit log's hash chain and anchors passed, 0 when it found tampering");
        meter.CreateObservableGauge("quiver_audit_entries", () => Last is { } last ? [new Measurement<long>(last.Result.Entries)] : Array.Empty<Measurement<long>>(),
            description: "Entries in the audit log at the last verification");
        _loop = Task.Run(() => RunAsync(interval));
    }

    /// <summary>The last verification and when it ran; null before the first.</summary>
    public Checked? Last { get; private set; }

    /// <summary>Verifies now and publishes the result.</summary>
    public async Task<AuditVerification> VerifyNowAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            AuditVerification result = await _log.VerifyAsync(cancellationToken);
            if (!result.Valid && Last?.Result.Valid != false)
            {
                Log.ChainInvalid(_logger, result.Message);
            }

            Last = new Checked(result, _time.GetUtcNow());
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        _stopping.Dispose();
        _gate.Dispose();
    }

    private async Task RunAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            do
            {
                try
                {
                    await VerifyNowAsync(_stopping.Token);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.VerifyFailed(_logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(_stopping.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A verification result and when it was made.</summary>
    public sealed record Checked(AuditVerification Result, DateTimeOffset At);

    private static partial class Log
    {
        [LoggerMessage(EventId = 641, Level = LogLevel.Critical, Message = "Audit log verification FAILED: {Message}")]
        public static partial void ChainInvalid(ILogger logger, string message);

        [LoggerMessage(EventId = 642, Level = LogLevel.Warning, Message = "Audit log could not be verified (the last result stands): {Error}")]
        public static partial void VerifyFailed(ILogger logger, string error);
    }
}
