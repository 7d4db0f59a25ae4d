using System.Text;

namespace Quiver.Core.Models;

/// <summary>
/// Reads protobuf text format as Triton's config.pbtxt files use it into an untyped <see cref="TextProtoMessage"/>:
/// <c>field: value</c>, <c>field { ... }</c> or <c>field: { ... }</c>, lists <c>field: [ a, b ]</c> of scalars or
/// messages, strings in either quote with C escapes, <c>#</c> comments and optional <c>,</c>/<c>;</c> separators.
/// The first syntax error is thrown as a <see cref="ModelConfigException"/> naming its line and column.
/// </summary>
public sealed class TextProtoReader
{
    // Deep enough for any real config, shallow enough that a hostile file cannot overflow the stack.
    private const int MaxDepth = 64;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly string _text;
    private readonly string _source;
    private int _position;
    private int _line = 1;
    private int _column = 1;
    private Token _current;

    private TextProtoReader(string text, string source)
    {
        _text = text;
        _source = source;
        _current = NextToken();
    }

    private enum TokenKind
    {
        Identifier,
        String,
        Integer,
        Float,
        Symbol,
        End,
    }

    /// <summary>Parses a whole document; <paramref name="source"/> names it in error messages.</summary>
    public static TextProtoMessage Parse(string text, string source = "config.pbtxt")
    {
        var reader = new TextProtoReader(text, source);
        return reader.ReadFields(new TextProtoMessage(1, 1), closing: null, depth: 0);
    }

    private TextProtoMessage ReadFields(TextProtoMessage message, char? closing, int depth)
    {
        while (true)
        {
            if (_current.Kind == TokenKind.End)
            {
                if (closing is null)
                {
                    return message;
                }

                throw Expected($"'{closing}'");
            }

            if (closing is { } close && IsSymbol(close))
            {
                Advance();
                return message;
            }

            if (_current.Kind != TokenKind.Identifier)
            {
                throw Expected(closing is null ? "a field name" : $"a field name or '{closing}'");
            }

            Token name = _current;
            Advance();
            ReadFieldValue(message, name, depth);
            if (IsSymbol(',') || IsSymbol(';'))
            {
                Advance();
            }
        }
    }

    private void ReadFieldValue(TextProtoMessage message, Token name, int depth)
    {
        TextProtoField field = message.Field(name.Text, name.Line, name.Column);
        bool colon = IsSymbol(':');
        if (colon)
        {
            Advance();
        }

        if (IsSymbol('['))
        {
            ReadList(field, depth);
        }
        else if (IsSymbol('{') || IsSymbol('<'))
        {
            field.Add(ReadMessage(depth));
        }
        else if (colon)
        {
            field.Add(ReadScalar());
        }
        else
        {
            // Protobuf requires the colon before a scalar, so a missing one is more likely a typo than a style.
            throw Expected($"':' or '{{' after '{name.Text}'");
        }
    }

    private void ReadList(TextProtoField field, int depth)
    {
        Advance();
        if (IsSymbol(']'))
        {
            Advance();
            return;
        }

        while (true)
        {
            field.Add(IsSymbol('{') || IsSymbol('<') ? ReadMessage(depth) : ReadScalar());
            if (IsSymbol(','))
            {
                Advance();
            }
            else if (IsSymbol(']'))
            {
                Advance();
                return;
            }
            else
            {
                throw Expected("',' or ']'");
            }
        }
    }

    private TextProtoValue ReadMessage(int depth)
    {
        Token open = _current;
        if (depth >= MaxDepth)
        {
            throw Error(open.Line, open.Column, $"messages are nested more than {MaxDepth} levels deep");
        }

        Advance();
        var message = new TextProtoMessage(open.Line, open.Column);
        ReadFields(message, open.Text == "<" ? '>' : '}', depth + 1);
        return new TextProtoValue(TextProtoValueKind.Message, "", message, open.Line, open.Column);
    }

    private TextProtoValue ReadScalar()
    {
        Token start = _current;
        switch (_current.Kind)
        {
            case TokenKind.String:
                // Adjacent literals join, as in C, so long strings can be split over lines.
                var text = new StringBuilder();
                while (_current.Kind == TokenKind.String)
                {
                    text.Append(_current.Text);
                    Advance();
                }

                return new TextProtoValue(TextProtoValueKind.String, text.ToString(), null, start.Line, start.Column);
            case TokenKind.Integer:
            case TokenKind.Float:
                Advance();
                return Number(start, "");
            case TokenKind.Identifier:
                Advance();
                return new TextProtoValue(TextProtoValueKind.Identifier, start.Text, null, start.Line, start.Column);
            case TokenKind.Symbol when start.Text == "-":
                Advance();
                if (_current.Kind is TokenKind.Integer or TokenKind.Float)
                {
                    Token number = _current;
                    Advance();
                    return Number(number, "-") with { Line = start.Line, Column = start.Column };
                }

                if (_current.Kind == TokenKind.Identifier && _current.Text.ToLowerInvariant() is "inf" or "infinity" or "nan")
                {
                    Token special = _current;
                    Advance();
                    return new TextProtoValue(TextProtoValueKind.Float, "-" + special.Text, null, start.Line, start.Column);
                }

                throw Expected("a number after '-'");
            default:
                throw Expected("a value");
        }
    }

    private static TextProtoValue Number(Token token, string sign) => new(
        token.Kind == TokenKind.Integer ? TextProtoValueKind.Integer : TextProtoValueKind.Float,
        sign + token.Text, null, token.Line, token.Column);

    private bool IsSymbol(char symbol) =>
        _current.Kind == TokenKind.Symbol && _current.Text[0] == symbol;

    private void Advance() => _current = NextToken();

    private ModelConfigException Expected(string what) =>
        Error(_current.Line, _current.Column, $"expected {what} but found {Describe(_current)}");

    private ModelConfigException Error(int line, int column, string message) =>
        new($"{_source} line {line}, column {column}: {message}");

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.End => "end of file",
        TokenKind.String => $"string \"{token.Text}\"",
        TokenKind.Integer or TokenKind.Float => $"number {token.Text}",
        _ => $"'{token.Text}'",
    };

    private Token NextToken()
    {
        SkipSpaceAndComments();
        int line = _line, column = _column;
        if (_position >= _text.Length)
        {
            return new Token(TokenKind.End, "", line, column);
        }

        char c = _text[_position];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            int start = _position;
            while (_position < _text.Length && (char.IsAsciiLetterOrDigit(_text[_position]) || _text[_position] == '_'))
            {
                Step();
            }

            return new Token(TokenKind.Identifier, _text[start.._position], line, column);
        }

        if (char.IsAsciiDigit(c) || (c == '.' && _position + 1 < _text.Length && char.IsAsciiDigit(_text[_position + 1])))
        {
            return ReadNumber(line, column);
        }

        if (c is '"' or '\'')
        {
            return new Token(TokenKind.String, ReadString(line, column), line, column);
        }

        if ("{}[]<>:,;-".Contains(c))
        {
            Step();
            return new Token(TokenKind.Symbol, c.ToString(), line, column);
        }

        throw Error(line, column, $"unexpected character '{c}'");
    }

    private void SkipSpaceAndComments()
    {
        while (_position < _text.Length)
        {
            char c = _text[_position];
            if (char.IsWhiteSpace(c))
            {
                Step();
            }
            else if (c == '#')
            {
                while (_position < _text.Length && _text[_position] != '\n')
                {
                    Step();
                }
            }
            else
            {
                return;
            }
        }
    }

    private Token ReadNumber(int line, int column)
    {
        int start = _position;
        bool isFloat = false;
        if (Peek() == '0' && Peek(1) is 'x' or 'X')
        {
            Step();
            Step();
            if (!char.IsAsciiHexDigit(Peek()))
            {
                throw Error(line, column, "expected hexadecimal digits after '0x'");
            }

            SkipWhile(char.IsAsciiHexDigit);
        }
        else
        {
            SkipWhile(char.IsAsciiDigit);
            if (Peek() == '.')
            {
                isFloat = true;
                Step();
                SkipWhile(char.IsAsciiDigit);
            }

            if (Peek() is 'e' or 'E')
            {
                isFloat = true;
                Step();
                if (Peek() is '+' or '-')
                {
                    Step();
                }

                if (!char.IsAsciiDigit(Peek()))
                {
                    throw Error(line, column, $"expected digits in the exponent of '{_text[start.._position]}'");
                }

                SkipWhile(char.IsAsciiDigit);
            }

            if (Peek() is 'f' or 'F')
            {
                isFloat = true;
                Step();
            }
        }

        // "12abc" or "1.5.3" would otherwise split silently into two tokens.
        if (char.IsAsciiLetterOrDigit(Peek()) || Peek() is '_' or '.')
        {
            SkipWhile(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.');
            throw Error(line, column, $"'{_text[start.._position]}' is not a number");
        }

        return new Token(isFloat ? TokenKind.Float : TokenKind.Integer, _text[start.._position], line, column);
    }

    private string ReadString(int line, int column)
    {
        char quote = _text[_position];
        Step();

        // Escapes such as \xff produce raw bytes, so the literal is assembled as UTF-8 and decoded at the end.
        var bytes = new List<byte>();
        var plain = new StringBuilder();
        while (true)
        {
            if (_position >= _text.Length || _text[_position] == '\n')
            {
                throw Error(line, column, "string is not closed on the line where it starts");
            }

            char c = _text[_position];
            if (c == quote)
            {
                Step();
                break;
            }

            if (c != '\\')
            {
                plain.Append(c);
                Step();
                continue;
            }

            int escapeLine = _line, escapeColumn = _column;
            Step();
            if (_position >= _text.Length || _text[_position] == '\n')
            {
                throw Error(line, column, "string is not closed on the line where it starts");
            }

            char kind = _text[_position];
            Step();
            if (SimpleEscape(kind) is { } simple)
            {
                plain.Append(simple);
            }
            else if (kind is >= '0' and <= '7')
            {
                int octal = kind - '0';
                for (int i = 0; i < 2 && Peek() is >= '0' and <= '7'; i++)
                {
                    octal = (octal * 8) + (Peek() - '0');
                    Step();
                }

                if (octal > 0xFF)
                {
                    throw Error(escapeLine, escapeColumn, "octal escape is larger than one byte (\\377)");
                }

                Flush(plain, bytes);
                bytes.Add((byte)octal);
            }
            else if (kind == 'x')
            {
                Flush(plain, bytes);
                bytes.Add((byte)ReadHex(1, 2, escapeLine, escapeColumn));
            }
            else if (kind is 'u' or 'U')
            {
                int digits = kind == 'u' ? 4 : 8;
                AppendCodePoint(plain, ReadHex(digits, digits, escapeLine, escapeColumn), escapeLine, escapeColumn);
            }
            else
            {
                throw Error(escapeLine, escapeColumn, $"unknown escape '\\{kind}' in string");
            }
        }

        Flush(plain, bytes);
        try
        {
            return s_strictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            throw Error(line, column, "string escapes do not form valid UTF-8");
        }
    }

    private static char? SimpleEscape(char kind) => kind switch
    {
        'a' => '\a',
        'b' => '\b',
        'f' => '\f',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\v',
        '\\' or '\'' or '"' or '?' => kind,
        _ => null,
    };

    private long ReadHex(int minDigits, int maxDigits, int line, int column)
    {
        long value = 0;
        int digits = 0;
        while (digits < maxDigits && char.IsAsciiHexDigit(Peek()))
        {
            char c = Peek();
            value = (value * 16) + (char.IsAsciiDigit(c) ? c - '0' : char.ToLowerInvariant(c) - 'a' + 10);
            Step();
            digits++;
        }

        if (digits < minDigits)
        {
            throw Error(line, column, minDigits == maxDigits
                ? $"escape needs {minDigits} hexadecimal digits"
                : "escape needs hexadecimal digits");
        }

        return value;
    }

    private void AppendCodePoint(StringBuilder plain, long codePoint, int line, int column)
    {
        if (codePoint > 0x10FFFF || codePoint is >= 0xD800 and <= 0xDFFF)
        {
            throw Error(line, column, $"escape U+{codePoint:X} is not a Unicode character");
        }

        plain.Append(char.ConvertFromUtf32((int)codePoint));
    }

    private static void Flush(StringBuilder plain, List<byte> bytes)
    {
        if (plain.Length > 0)
        {
            bytes.AddRange(Encoding.UTF8.GetBytes(plain.ToString()));
            plain.Clear();
        }
    }

    private char Peek(int ahead = 0) =>
        _position + ahead < _text.Length ? _text[_position + ahead] : '\0';

    private void SkipWhile(Func<char, bool> predicate)
    {
        while (_position < _text.Length && predicate(_text[_position]))
        {
            Step();
        }
    }

    private void Step()
    {
        if (_text[_position] == '\n')
        {
            _line++;
            _column = 1;
        }
        else
        {
            _column++;
        }

        _position++;
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Line, int Column);
}
