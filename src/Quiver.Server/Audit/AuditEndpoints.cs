using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Registry;
using Quiver.Core.Security.Audit;
using Quiver.Server.Rest;

namespace Quiver.Server.Audit;

/// <summary>
/// The audit log over HTTP: <c>GET /v2/admin/audit</c> (entries, as JSON or JSON lines for a SIEM),
/// <c>GET /v2/admin/audit/verify</c> (recompute the chain now) and <c>POST /v2/admin/audit/anchor</c> (anchor the head now).
/// </summary>
internal static class AuditEndpoints
{
    /// <summary>The most entries one request returns.</summary>
    public const int MaxLimit = 10_000;

    private const string JsonLines = "application/x-ndjson";

    public static void MapAudit(this IEndpointRouteBuilder routes, AuditLog log, AuditChainMonitor monitor)
    {
        routes.MapGet("/v2/admin/audit", async (HttpContext context) =>
        {
            AuditQuery query = AuditQuery.Parse(context.Request.Query);
            IReadOnlyList<AuditEntry> entries = query.Recent is { } recent
                ? await log.Store.ReadRecentAuditAsync(recent, context.RequestAborted)
                : await log.Store.ReadAuditAsync(query.AfterSequence, query.Since, query.Limit, context.RequestAborted);
            if (query.Format == "jsonl" || (query.Format is null && context.Request.Headers.Accept.ToString().Contains(JsonLines, StringComparison.Ordinal)))
            {
                context.Response.ContentType = JsonLines;
                var text = new StringBuilder();
                foreach (AuditEntry entry in entries)
                {
                    text.Append(AuditJson.ToLine(entry)).Append('\n');
                }

                await context.Response.WriteAsync(text.ToString(), context.RequestAborted);
                return;
            }

            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteStartArray("entries");
                foreach (AuditEntry entry in entries)
                {
                    AuditJson.WriteEntry(w, entry);
                }

                w.WriteEndArray();
                // Where the next page starts: pass it back as since= to read on without gaps or repeats.
                w.WriteNumber("next_since", entries.Count == 0 || query.Recent is not null ? query.AfterSequence : entries[^1].Sequence);
                WriteChain(w, monitor.Last);
            });
        });

        routes.MapGet("/v2/admin/audit/verify", async (HttpContext context) =>
        {
            AuditVerification result = await monitor.VerifyNowAsync(context.RequestAborted);
            await AdminEndpoints.WriteAsync(context, 200, w => AuditJson.WriteVerificationProperties(w, result));
        });

        routes.MapPost("/v2/admin/audit/anchor", async (HttpContext context) =>
        {
            AuditAnchor? anchor = await log.AnchorAsync(context.RequestAborted);
            AuditScope.Note(context, "sequence", anchor?.Sequence);
            await AdminEndpoints.WriteAsync(context, 200, w =>
            {
                w.WriteBoolean("anchored", anchor is not null);
                if (anchor is not null)
                {
                    w.WriteNumber("sequence", anchor.Sequence);
                    w.WriteString("head_hash", anchor.HeadHash);
                    w.WriteString("key_id", anchor.KeyId);
                }
            });
        }).Audited("audit.anchor", "audit");
    }

    private static void WriteChain(Utf8JsonWriter w, AuditChainMonitor.Checked? last)
    {
        w.WriteStartObject("chain");
        if (last is null)
        {
            w.WriteNull("valid");
        }
        else
        {
            w.WriteBoolean("valid", last.Result.Valid);
            w.WriteString("checked_at", last.At);
            w.WriteString("message", last.Result.Message);
        }

        w.WriteEndObject();
    }

    /// <summary>The query string of <c>GET /v2/admin/audit</c>, checked with messages that say what is expected.</summary>
    private sealed record AuditQuery(long AfterSequence, DateTimeOffset? Since, int Limit, int? Recent, string? Format)
    {
        public static AuditQuery Parse(IQueryCollection query)
        {
            string? Text(string key) => query.TryGetValue(key, out var value) && !string.IsNullOrEmpty(value.ToString()) ? value.ToString() : null;
            long after = 0;
            DateTimeOffset? since = null;
            if (Text("since") is { } given)
            {
                if (long.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out long sequence))
                {
                    after = sequence;
                }
                else if (DateTimeOffset.TryParse(given, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset time))
                {
                    since = time;
                }
                else
                {
                    throw RegistryException.Invalid(
                        $"since must be a sequence number (entries after it) or an ISO 8601 time such as 2026-12-01T00:00:00Z, got '{given}'.");
                }
            }

            return new AuditQuery(after, since, Count(Text("limit"), "limit", 100) ?? 100, Count(Text("recent"), "recent", null),
                Text("format") switch
                {
                    null => null,
                    "json" => "json",
                    "jsonl" => "jsonl",
                    string other => throw RegistryException.Invalid($"format must be json or jsonl, got '{other}'."),
                });
        }

        private static int? Count(string? text, string name, int? fallback)
        {
            if (text is null)
            {
                return fallback;
            }

            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value is >= 1 and <= MaxLimit
                ? value
                : throw RegistryException.Invalid($"{name} must be a whole number from 1 to {MaxLimit}, got '{text}'.");
        }
    }
}
