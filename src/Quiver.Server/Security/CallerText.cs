namespace Quiver.Server.Security;

/// <summary>
/// Text the caller chose (a token's issuer or key id, a certificate's subject), made safe to put in a message or a log
/// line: at most 120 characters, control characters replaced, so a crafted value cannot forge log lines.
/// </summary>
internal static class CallerText
{
    private const int MaxLength = 120;

    public static string Shown(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        int length = Math.Min(value.Length, MaxLength);
        return string.Create(length, value, (span, text) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = char.IsControl(text[i]) ? '?' : text[i];
            }
        }) + (value.Length > MaxLength ? "..." : "");
    }
}
