using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Quiver.Core.Security.Audit;

/// <summary>
/// The canonical encoding the chain's hashes and the anchors' MACs are computed over: a version label, then each field
/// in a fixed order as a presence byte and, when present, a 4-byte big-endian length and its UTF-8 bytes. Lengths make
/// the encoding unambiguous ("ab"+"c" differs from "a"+"bc"), and null differs from empty.
/// </summary>
public static class AuditHashing
{
    /// <summary>The previous hash of the first entry: 64 zeros.</summary>
    public static readonly string GenesisHash = new('0', 64);

    private const string EntryLabel = "quiver-audit-entry-v1";
    private const string AnchorLabel = "quiver-audit-anchor-v1";

    /// <summary>SHA-256, hex, of <paramref name="entry"/>'s fields and previous hash (its own <see cref="AuditEntry.Hash"/> is ignored).</summary>
    public static string HashOf(AuditEntry entry) => Convert.ToHexStringLower(SHA256.HashData(Encode(
        EntryLabel, entry.Sequence.ToString(CultureInfo.InvariantCulture), TimeText(entry.Time), entry.Actor, entry.Tenant, entry.Action,
        entry.Resource, entry.Outcome, entry.Source, entry.Details, entry.PreviousHash)));

    /// <summary>HMAC-SHA256, hex, of <paramref name="anchor"/>'s fields under <paramref name="key"/> (its own MAC is ignored).</summary>
    public static string MacOf(AuditAnchor anchor, AuditKey key) => key.Mac(Encode(
        AnchorLabel, anchor.Sequence.ToString(CultureInfo.InvariantCulture), anchor.HeadHash, anchor.PreviousMac, TimeText(anchor.CreatedAt), anchor.KeyId));

    /// <summary>Microseconds: PostgreSQL keeps no finer, and an entry must hash the same after a round trip through the database.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time)
    {
        long ticks = time.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
    }

    private static string TimeText(DateTimeOffset time) =>
        Truncate(time).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static byte[] Encode(params string?[] fields)
    {
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        foreach (string? field in fields)
        {
            if (field is null)
            {
                buffer.WriteByte(0);
                continue;
            }

            byte[] bytes = Encoding.UTF8.GetBytes(field);
            buffer.WriteByte(1);
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            buffer.Write(length);
            buffer.Write(bytes);
        }

        return buffer.ToArray();
    }
}
