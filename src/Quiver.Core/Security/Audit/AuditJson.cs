using System.Text.Json;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// The JSON shape of entries and verification results, shared by <c>GET /v2/admin/audit</c> and <c>quiver audit export</c>
/// so a SIEM parses one format. Details stay the string that was hashed, so an exported entry can be re-verified.
/// </summary>
public static class AuditJson
{
    /// <summary>One entry as a JSON object.</summary>
    public static void WriteEntry(Utf8JsonWriter w, AuditEntry entry)
    {
        w.WriteStartObject();
        w.WriteNumber("sequence", entry.Sequence);
        w.WriteString("time", entry.Time);
        w.WriteString("actor", entry.Actor);
        w.WriteString("tenant", entry.Tenant);
        w.WriteString("action", entry.Action);
        w.WriteString("resource", entry.Resource);
        w.WriteString("outcome", entry.Outcome);
        w.WriteString("source", entry.Source);
        w.WriteString("details", entry.Details);
        w.WriteString("previous_hash", entry.PreviousHash);
        w.WriteString("hash", entry.Hash);
        w.WriteEndObject();
    }

    /// <summary>One entry as a line of JSON (no newline).</summary>
    public static string ToLine(AuditEntry entry)
    {
        using var buffer = new MemoryStream();
        // Relaxed escaping: a SIEM reads "details" as it was hashed, not with every quote as \u0022.
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            WriteEntry(w, entry);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A verification result's properties (inside an object the caller opened).</summary>
    public static void WriteVerificationProperties(Utf8JsonWriter w, AuditVerification result)
    {
        w.WriteBoolean("valid", result.Valid);
        w.WriteNumber("entries", result.Entries);
        w.WriteNumber("anchors", result.Anchors);
        w.WriteNumber("head_sequence", result.HeadSequence);
        w.WriteNumber("anchored_through", result.AnchoredThrough);
        if (result.FirstBadSequence is { } bad)
        {
            w.WriteNumber("first_bad_sequence", bad);
        }
        else
        {
            w.WriteNull("first_bad_sequence");
        }

        w.WriteString("problem", result.Problem is { } problem ? AuditVerifier.ProblemName(problem) : null);
        w.WriteString("message", result.Message);
    }
}
