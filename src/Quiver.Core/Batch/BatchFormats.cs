namespace Quiver.Core.Batch;

/// <summary>Layouts of an input file.</summary>
public enum InputFormat
{
    /// <summary>Delimited text with a header line (RFC 4180 quoting).</summary>
    Csv,

    /// <summary>One JSON object or array per line.</summary>
    JsonLines,

    /// <summary>NumPy's .npy: one 2-D little-endian float32 tensor in C order, a row per input row.</summary>
    Npy,
}

/// <summary>Layouts of an output file.</summary>
public enum OutputFormat
{
    /// <summary>One JSON object per row: {"row":i,"output":[...]}.</summary>
    JsonLines,

    /// <summary>A header line, then one line per row: row, then each output's elements.</summary>
    Csv,
}

/// <summary>Formats picked from file names, and their names on the command line.</summary>
public static class BatchFormats
{
    /// <summary>The input format for a name: .csv and .tsv are CSV, .npy is NumPy, .jsonl/.ndjson/.json are JSON lines.</summary>
    public static InputFormat? InputFromPath(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" or ".tsv" or ".txt" => InputFormat.Csv,
        ".jsonl" or ".ndjson" or ".json" => InputFormat.JsonLines,
        ".npy" => InputFormat.Npy,
        _ => null,
    };

    /// <summary>The output format for a name: .csv and .tsv are CSV, everything else JSON lines.</summary>
    public static OutputFormat OutputFromPath(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".csv" or ".tsv" => OutputFormat.Csv,
        _ => OutputFormat.JsonLines,
    };

    /// <summary>Parses a --input-format value.</summary>
    public static InputFormat? ParseInput(string name) => name.ToLowerInvariant() switch
    {
        "csv" => InputFormat.Csv,
        "jsonl" or "ndjson" or "json" => InputFormat.JsonLines,
        "npy" => InputFormat.Npy,
        _ => null,
    };

    /// <summary>Parses an --output-format value.</summary>
    public static OutputFormat? ParseOutput(string name) => name.ToLowerInvariant() switch
    {
        "csv" => OutputFormat.Csv,
        "jsonl" or "ndjson" or "json" => OutputFormat.JsonLines,
        _ => null,
    };

    /// <summary>The name used on the command line and in checkpoints.</summary>
    public static string Name(this InputFormat format) => format switch
    {
        InputFormat.Csv => "csv",
        InputFormat.JsonLines => "jsonl",
        _ => "npy",
    };

    /// <summary>The name used on the command line and in checkpoints.</summary>
    public static string Name(this OutputFormat format) => format == OutputFormat.Csv ? "csv" : "jsonl";
}
