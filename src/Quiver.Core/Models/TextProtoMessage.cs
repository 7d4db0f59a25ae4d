using System.Globalization;

namespace Quiver.Core.Models;

/// <summary>
/// One message of a protobuf text-format document, untyped: its fields in the order they first appear,
/// each with every value given for it (a repeated field written several times, or as a list, collects them all).
/// </summary>
public sealed class TextProtoMessage
{
    private readonly List<TextProtoField> _fields = [];

    /// <summary>Creates an empty message that starts at the given position (1-based).</summary>
    internal TextProtoMessage(int line, int column)
    {
        Line = line;
        Column = column;
    }

    /// <summary>Line of the opening brace, or 1 for the document itself.</summary>
    public int Line { get; }

    /// <summary>Column of the opening brace, or 1 for the document itself.</summary>
    public int Column { get; }

    /// <summary>The fields in the order they first appear.</summary>
    public IReadOnlyList<TextProtoField> Fields => _fields;

    /// <summary>Every value given for <paramref name="name"/>, in order; empty when the field is absent.</summary>
    public IReadOnlyList<TextProtoValue> Values(string name) =>
        _fields.Find(f => f.Name == name)?.Values ?? [];

    /// <summary>The field named <paramref name="name"/>, added at the end when it is new.</summary>
    internal TextProtoField Field(string name, int line, int column)
    {
        TextProtoField? field = _fields.Find(f => f.Name == name);
        if (field is null)
        {
            field = new TextProtoField(name, line, column);
            _fields.Add(field);
        }

        return field;
    }
}

/// <summary>A field of a <see cref="TextProtoMessage"/> with all its values.</summary>
public sealed class TextProtoField(string name, int line, int column)
{
    private readonly List<TextProtoValue> _values = [];

    /// <summary>The field name as written.</summary>
    public string Name { get; } = name;

    /// <summary>Line where the field name first appears.</summary>
    public int Line { get; } = line;

    /// <summary>Column where the field name first appears.</summary>
    public int Column { get; } = column;

    /// <summary>Every value, in the order written.</summary>
    public IReadOnlyList<TextProtoValue> Values => _values;

    internal void Add(TextProtoValue value) => _values.Add(value);
}

/// <summary>What kind of token or block a <see cref="TextProtoValue"/> is.</summary>
public enum TextProtoValueKind
{
    /// <summary>A quoted string, escapes decoded.</summary>
    String,

    /// <summary>A decimal, octal (leading 0) or hexadecimal (0x) integer, possibly negative.</summary>
    Integer,

    /// <summary>A number with a fraction, exponent or f suffix, or -inf/-nan.</summary>
    Float,

    /// <summary>A bare word: an enum value such as TYPE_FP32, or true/false.</summary>
    Identifier,

    /// <summary>A nested message in braces.</summary>
    Message,
}

/// <summary>One value of a field: a scalar token or a nested message, with where it was written.</summary>
public sealed record TextProtoValue(TextProtoValueKind Kind, string Text, TextProtoMessage? Message, int Line, int Column)
{
    /// <summary>The value as an integer; false when it is not an integer token or does not fit in 64 bits.</summary>
    public bool TryGetInt64(out long value)
    {
        value = 0;
        if (Kind != TextProtoValueKind.Integer)
        {
            return false;
        }

        bool negative = Text.StartsWith('-');
        string digits = negative ? Text[1..] : Text;
        ulong magnitude;
        bool parsed;
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            parsed = ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out magnitude);
        }
        else if (digits.Length > 1 && digits[0] == '0')
        {
            parsed = TryParseOctal(digits.AsSpan(1), out magnitude);
        }
        else
        {
            parsed = ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude);
        }

        if (!parsed)
        {
            return false;
        }

        // The negative range reaches one further than the positive, so long.MinValue is written as its magnitude.
        if (negative ? magnitude > (ulong)long.MaxValue + 1 : magnitude > long.MaxValue)
        {
            return false;
        }

        value = negative ? (long)(0 - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>Describes the value for error messages, e.g. <c>"x"</c>, <c>12</c> or <c>{ ... }</c>.</summary>
    public override string ToString() => Kind switch
    {
        TextProtoValueKind.String => "\"" + Text + "\"",
        TextProtoValueKind.Message => "{ ... }",
        _ => Text,
    };

    private static bool TryParseOctal(ReadOnlySpan<char> digits, out ulong value)
    {
        value = 0;
        foreach (char c in digits)
        {
            if (c is < '0' or > '7' || value > ulong.MaxValue >> 3)
            {
                return false;
            }

            value = (value << 3) | (uint)(c - '0');
        }

        return true;
    }
}
