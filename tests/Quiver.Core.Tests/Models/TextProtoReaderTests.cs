using Quiver.Core.Models;

namespace Quiver.Core.Tests.Models;

public sealed class TextProtoReaderTests
{
    private static TextProtoValue Single(TextProtoMessage message, string name) => Assert.Single(message.Values(name));

    [Fact]
    public void Parse_ScalarsOfEveryKind_KeepKindTextAndPosition()
    {
        TextProtoMessage root = TextProtoReader.Parse("""
            name: "resnet"
            max_batch_size: 8
            delay: -12
            ratio: 0.25
            kind: KIND_GPU
            enabled: true
            """);

        Assert.Equal(["name", "max_batch_size", "delay", "ratio", "kind", "enabled"], root.Fields.Select(f => f.Name));
        TextProtoValue name = Single(root, "name");
        Assert.Equal((TextProtoValueKind.String, "resnet", 1, 7), (name.Kind, name.Text, name.Line, name.Column));
        Assert.Equal((TextProtoValueKind.Integer, "8"), (Single(root, "max_batch_size").Kind, Single(root, "max_batch_size").Text));
        Assert.True(Single(root, "delay").TryGetInt64(out long delay));
        Assert.Equal(-12, delay);
        Assert.Equal((TextProtoValueKind.Float, "0.25"), (Single(root, "ratio").Kind, Single(root, "ratio").Text));
        Assert.Equal((TextProtoValueKind.Identifier, "KIND_GPU"), (Single(root, "kind").Kind, Single(root, "kind").Text));
        Assert.Equal(TextProtoValueKind.Identifier, Single(root, "enabled").Kind);
        Assert.Equal(3, root.Fields[2].Line);
        Assert.Equal(1, root.Fields[2].Column);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("-1", -1L)]
    [InlineData("0x1F", 31L)]
    [InlineData("017", 15L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void TryGetInt64_DecimalHexOctalAndLimits(string literal, long expected)
    {
        TextProtoValue value = Single(TextProtoReader.Parse($"v: {literal}"), "v");

        Assert.True(value.TryGetInt64(out long parsed));
        Assert.Equal(expected, parsed);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("08")]
    [InlineData("1.5")]
    [InlineData("\"1\"")]
    [InlineData("ONE")]
    public void TryGetInt64_NotAnInt64_IsFalse(string literal)
    {
        Assert.False(Single(TextProtoReader.Parse($"v: {literal}"), "v").TryGetInt64(out _));
    }

    [Theory]
    [InlineData("1.5", "1.5")]
    [InlineData(".5", ".5")]
    [InlineData("1e-3", "1e-3")]
    [InlineData("2.5E+2", "2.5E+2")]
    [InlineData("3f", "3f")]
    [InlineData("-0.5", "-0.5")]
    [InlineData("-inf", "-inf")]
    public void Parse_Floats_AreFloatTokens(string literal, string text)
    {
        TextProtoValue value = Single(TextProtoReader.Parse($"v: {literal}"), "v");

        Assert.Equal(TextProtoValueKind.Float, value.Kind);
        Assert.Equal(text, value.Text);
    }

    [Fact]
    public void Parse_NestedMessages_WithAndWithoutColon_AndAngleBrackets()
    {
        TextProtoMessage root = TextProtoReader.Parse("""
            dynamic_batching { max_queue_delay_microseconds: 100 }
            version_policy: { latest: { num_versions: 2 } }
            reshape < shape: 1 >
            """);

        TextProtoMessage batching = Single(root, "dynamic_batching").Message!;
        Assert.Equal("100", Single(batching, "max_queue_delay_microseconds").Text);
        TextProtoMessage latest = Single(Single(root, "version_policy").Message!, "latest").Message!;
        Assert.Equal("2", Single(latest, "num_versions").Text);
        Assert.Equal((2, 27), (latest.Line, latest.Column));
        Assert.Equal("1", Single(Single(root, "reshape").Message!, "shape").Text);
    }

    [Fact]
    public void Parse_Lists_OfScalarsAndOfMessages_WithOrWithoutColon()
    {
        TextProtoMessage root = TextProtoReader.Parse("""
            dims: [ 3, -1, 224 ]
            gpus [ 0, 1 ]
            empty: []
            input [
              { name: "a" },
              { name: "b" }
            ]
            output: [ { name: "c" } ]
            """);

        Assert.Equal(["3", "-1", "224"], root.Values("dims").Select(v => v.Text));
        Assert.Equal(["0", "1"], root.Values("gpus").Select(v => v.Text));
        Assert.Contains(root.Fields, f => f.Name == "empty");
        Assert.Empty(root.Values("empty"));
        Assert.Equal(["a", "b"], root.Values("input").Select(v => Single(v.Message!, "name").Text));
        Assert.Equal("c", Single(Single(root, "output").Message!, "name").Text);
    }

    [Fact]
    public void Parse_RepeatedByRepetition_CollectsIntoOneFieldInFirstPosition()
    {
        TextProtoMessage root = TextProtoReader.Parse("""
            versions: 1
            name: "m"
            versions: 3
            versions: [ 5 ]
            """);

        Assert.Equal(["versions", "name"], root.Fields.Select(f => f.Name));
        Assert.Equal(["1", "3", "5"], root.Values("versions").Select(v => v.Text));
        Assert.Equal([1, 3, 4], root.Values("versions").Select(v => v.Line));
    }

    [Fact]
    public void Parse_CommentsAndSeparators_AreSkipped()
    {
        TextProtoMessage root = TextProtoReader.Parse("""
            # a leading comment
            name: "m", # trailing comment with "quotes" and { braces
            max_batch_size: 4;
            group { count: 1; kind: KIND_CPU, }  # separators inside
            """);

        Assert.Equal(["name", "max_batch_size", "group"], root.Fields.Select(f => f.Name));
        TextProtoMessage group = Single(root, "group").Message!;
        Assert.Equal(["count", "kind"], group.Fields.Select(f => f.Name));
    }

    [Theory]
    [InlineData("""v: "a\"b" """, "a\"b")]
    [InlineData("""v: 'it\'s "fine"' """, "it's \"fine\"")]
    [InlineData("""v: "tab\there\nline\\" """, "tab\there\nline\\")]
    [InlineData("""v: "\a\b\f\r\v\?" """, "\a\b\f\r\v?")]
    [InlineData("""v: "\101\x42\u00e9\U0001F600" """, "ABé😀")]
    [InlineData("""v: "\303\251" """, "é")]
    [InlineData("""v: "con" 'cat' "enated" """, "concatenated")]
    [InlineData("""v: "" """, "")]
    [InlineData("""v: "# not a comment" """, "# not a comment")]
    public void Parse_Strings_DecodeEscapesInEitherQuote(string text, string expected)
    {
        TextProtoValue value = Single(TextProtoReader.Parse(text), "v");

        Assert.Equal(TextProtoValueKind.String, value.Kind);
        Assert.Equal(expected, value.Text);
    }

    [Fact]
    public void Parse_EmptyDocumentOrOnlyComments_IsAnEmptyMessage()
    {
        Assert.Empty(TextProtoReader.Parse("").Fields);
        Assert.Empty(TextProtoReader.Parse("# nothing\n\n  # here\n").Fields);
    }

    [Theory]
    [InlineData("name: \"m\"\ninput {\n  name: \"x\"\n", "config.pbtxt line 4, column 1: expected '}' but found end of file")]
    [InlineData("input [ { name: \"x\" } { name: \"y\" } ]", "config.pbtxt line 1, column 23: expected ',' or ']' but found '{'")]
    [InlineData("max_batch_size 8", "config.pbtxt line 1, column 16: expected ':' or '{' after 'max_batch_size' but found number 8")]
    [InlineData("name: \"m\"\n}", "config.pbtxt line 2, column 1: expected a field name but found '}'")]
    [InlineData("a { b: 1 >", "config.pbtxt line 1, column 10: expected a field name or '}' but found '>'")]
    [InlineData("a: ", "config.pbtxt line 1, column 4: expected a value but found end of file")]
    [InlineData("a: }", "config.pbtxt line 1, column 4: expected a value but found '}'")]
    [InlineData("dims: [ 1, ]", "config.pbtxt line 1, column 12: expected a value but found ']'")]
    [InlineData("a: -x", "config.pbtxt line 1, column 5: expected a number after '-' but found 'x'")]
    [InlineData("\"name\": 1", "config.pbtxt line 1, column 1: expected a field name but found string \"name\"")]
    [InlineData("a: 1\n  b: 12abc", "config.pbtxt line 2, column 6: '12abc' is not a number")]
    [InlineData("a: 1.2.3", "config.pbtxt line 1, column 4: '1.2.3' is not a number")]
    [InlineData("a: 1e", "config.pbtxt line 1, column 4: expected digits in the exponent of '1e'")]
    [InlineData("a: 0x", "config.pbtxt line 1, column 4: expected hexadecimal digits after '0x'")]
    [InlineData("a: 1 // comment", "config.pbtxt line 1, column 6: unexpected character '/'")]
    [InlineData("a: \"open\nb: 1", "config.pbtxt line 1, column 4: string is not closed on the line where it starts")]
    [InlineData("a: 'open", "config.pbtxt line 1, column 4: string is not closed on the line where it starts")]
    [InlineData("a: \"x\\qy\"", "config.pbtxt line 1, column 6: unknown escape '\\q' in string")]
    [InlineData("a: \"\\u12\"", "config.pbtxt line 1, column 5: escape needs 4 hexadecimal digits")]
    [InlineData("a: \"\\xZZ\"", "config.pbtxt line 1, column 5: escape needs hexadecimal digits")]
    [InlineData("a: \"\\400\"", "config.pbtxt line 1, column 5: octal escape is larger than one byte (\\377)")]
    [InlineData("a: \"\\uD800\"", "config.pbtxt line 1, column 5: escape U+D800 is not a Unicode character")]
    [InlineData("a: \"\\xff\"", "config.pbtxt line 1, column 4: string escapes do not form valid UTF-8")]
    public void Parse_SyntaxErrors_NameLineAndColumn(string text, string message)
    {
        var error = Assert.Throws<ModelConfigException>(() => TextProtoReader.Parse(text));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_SourceName_AppearsInErrors()
    {
        var error = Assert.Throws<ModelConfigException>(() => TextProtoReader.Parse("{", "models/m/config.pbtxt"));

        Assert.StartsWith("models/m/config.pbtxt line 1, column 1:", error.Message);
    }

    [Fact]
    public void Parse_HostileNesting_IsRefusedNotAStackOverflow()
    {
        string text = string.Concat(Enumerable.Repeat("a { ", 10_000)) + string.Concat(Enumerable.Repeat("} ", 10_000));

        var error = Assert.Throws<ModelConfigException>(() => TextProtoReader.Parse(text));

        Assert.Contains("nested more than 64 levels", error.Message);
    }
}
