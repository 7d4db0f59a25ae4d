using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>One model input and the columns that fill it, in feature order.</summary>
/// <param name="Name">The model's input name.</param>
/// <param name="Type">Its element type.</param>
/// <param name="RowShape">Its shape without the batch dimension.</param>
/// <param name="Width">Elements per row: the product of <paramref name="RowShape"/>.</param>
/// <param name="Columns">Source columns; one column holding an array when <paramref name="ArrayColumn"/>.</param>
/// <param name="ArrayColumn">Whether a single JSON column holds all <paramref name="Width"/> elements as an array.</param>
internal sealed record InputBinding(string Name, TensorElementType Type, long[] RowShape, int Width, int[] Columns, bool ArrayColumn);

/// <summary>Where one column's value goes: an input and the feature position in it; Input -1 means unused.</summary>
internal readonly record struct ColumnTarget(int Input, int Feature)
{
    public static ColumnTarget Unused { get; } = new(-1, 0);
}

/// <summary>
/// How an input file's columns fill a model's inputs, decided once before any row is read. Default: columns named
/// after every input fill them by name; otherwise, for a model with one input, the columns fill its features in
/// order. An explicit mapping names each input's columns.
/// </summary>
internal sealed class InputLayout
{
    private static readonly HashSet<TensorElementType> s_supported =
        [TensorElementType.Float, TensorElementType.Double, TensorElementType.Int32, TensorElementType.Int64, TensorElementType.Bool, TensorElementType.String];

    private InputLayout(IReadOnlyList<string> columns, InputBinding[] bindings)
    {
        Columns = columns;
        Bindings = bindings;
        Targets = Enumerable.Repeat(ColumnTarget.Unused, columns.Count).ToArray();
        for (int b = 0; b < bindings.Length; b++)
        {
            for (int f = 0; f < bindings[b].Columns.Length; f++)
            {
                Targets[bindings[b].Columns[f]] = new ColumnTarget(b, f);
            }
        }

        ColumnNameBytes = columns.Select(c => System.Text.Encoding.UTF8.GetBytes(c)).ToArray();
        ColumnIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < columns.Count; c++)
        {
            ColumnIndex.TryAdd(columns[c], c);
        }
    }

    /// <summary>The file's column names (for JSON arrays and .npy: "0", "1", …).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>One binding per model input, in the model's order.</summary>
    public InputBinding[] Bindings { get; }

    /// <summary>For each column, where its value goes.</summary>
    public ColumnTarget[] Targets { get; }

    /// <summary>Column names in UTF-8, to match JSON keys without decoding them.</summary>
    public byte[][] ColumnNameBytes { get; }

    /// <summary>Column name → index.</summary>
    public Dictionary<string, int> ColumnIndex { get; }

    /// <summary>The mapping as text, e.g. "input=a,b,c,d", recorded in checkpoints.</summary>
    public string Describe() =>
        string.Join("; ", Bindings.Select(b => $"{b.Name}={string.Join(",", b.Columns.Select(c => Columns[c]))}{(b.ArrayColumn ? "[]" : "")}"));

    /// <summary>Decides the layout, or throws a <see cref="BatchException"/> that says what does not fit and how to fix it.</summary>
    public static InputLayout Resolve(IReadOnlyList<string> columns, IReadOnlyList<TensorInfo> inputs,
        IReadOnlyDictionary<string, string[]> mapping, InputFormat format, char delimiter)
    {
        var shapes = inputs.Select(RowShapeOf).ToArray();
        if (mapping.Count > 0)
        {
            return Explicit(columns, inputs, shapes, mapping, format);
        }

        var index = columns.Select((name, i) => (name, i)).GroupBy(x => x.name).ToDictionary(g => g.Key, g => g.First().i, StringComparer.Ordinal);
        if (inputs.All(i => index.ContainsKey(i.Name)))
        {
            var bindings = new InputBinding[inputs.Count];
            for (int i = 0; i < inputs.Count; i++)
            {
                var (shape, width) = shapes[i];
                bool array = width > 1;
                if (array && format != InputFormat.JsonLines)
                {
                    throw new BatchException(BatchErrorKind.Input,
                        $"column '{inputs[i].Name}' is named after input '{inputs[i].Name}', which takes {width} values per row; " +
                        $"a {format.Name()} cell holds one. Name {width} columns and pass --map {inputs[i].Name}=COL1,COL2,…");
                }

                bindings[i] = new InputBinding(inputs[i].Name, inputs[i].ElementType, shape, width, [index[inputs[i].Name]], array);
            }

            return new InputLayout(columns, bindings);
        }

        if (inputs.Count == 1 && columns.Count == shapes[0].Width)
        {
            return new InputLayout(columns,
                [new InputBinding(inputs[0].Name, inputs[0].ElementType, shapes[0].Shape, shapes[0].Width, Enumerable.Range(0, columns.Count).ToArray(), false)]);
        }

        throw new BatchException(BatchErrorKind.Input, Mismatch(columns, inputs, shapes, format, delimiter));
    }

    private static InputLayout Explicit(IReadOnlyList<string> columns, IReadOnlyList<TensorInfo> inputs, (long[] Shape, int Width)[] shapes,
        IReadOnlyDictionary<string, string[]> mapping, InputFormat format)
    {
        var problems = new List<string>();
        string inputNames = string.Join(", ", inputs.Select(i => i.Name));
        foreach (string name in mapping.Keys.Where(k => inputs.All(i => i.Name != k)))
        {
            problems.Add($"--map names input '{name}', which the model does not have; its inputs are: {inputNames}.");
        }

        foreach (TensorInfo input in inputs.Where(i => !mapping.ContainsKey(i.Name)))
        {
            problems.Add($"--map gives no columns for input '{input.Name}'; every input needs its columns.");
        }

        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int c = 0; c < columns.Count; c++)
        {
            index.TryAdd(columns[c], c);
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        var bindings = new InputBinding[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!mapping.TryGetValue(inputs[i].Name, out string[]? names))
            {
                continue;
            }

            var (shape, width) = shapes[i];
            foreach (string name in names.Where(n => !index.ContainsKey(n)))
            {
                problems.Add($"--map {inputs[i].Name}: the input has no column '{name}'; its columns are: {Preview(columns)}.");
            }

            foreach (string name in names.Where(n => !used.Add(n)))
            {
                problems.Add($"--map: column '{name}' is mapped more than once.");
            }

            bool array = names.Length == 1 && width > 1 && format == InputFormat.JsonLines;
            if (names.Length != width && !array)
            {
                problems.Add($"--map {inputs[i].Name}: the input takes {width} values per row, the mapping names {names.Length} column(s).");
            }

            bindings[i] = new InputBinding(inputs[i].Name, inputs[i].ElementType, shape, width,
                names.Select(n => index.GetValueOrDefault(n, -1)).ToArray(), array);
        }

        if (problems.Count > 0)
        {
            throw new BatchException(BatchErrorKind.Usage, string.Join(Environment.NewLine, problems));
        }

        return new InputLayout(columns, bindings);
    }

    /// <summary>An input's per-row shape and element count; throws when the model's input cannot take batch rows.</summary>
    public static (long[] Shape, int Width) RowShapeOf(TensorInfo input)
    {
        if (!s_supported.Contains(input.ElementType))
        {
            throw new BatchException(BatchErrorKind.Model,
                $"input '{input.Name}' has element type {input.ElementType}; batch jobs read FLOAT, DOUBLE, INT32, INT64, BOOL and STRING inputs.");
        }

        if (input.Shape.Length == 0 || input.Shape[0] >= 0 || input.Shape.Skip(1).Any(d => d < 0))
        {
            throw new BatchException(BatchErrorKind.Model,
                $"input '{input.Name}' has shape [{string.Join(",", input.Shape)}]; a batch job needs an open leading (batch) dimension " +
                "and fixed others, e.g. [-1,4].");
        }

        long[] shape = input.Shape[1..];
        long width = shape.Aggregate(1L, (a, d) => a * d);
        return width is < 1 or > 1 << 20
            ? throw new BatchException(BatchErrorKind.Model, $"input '{input.Name}' takes {width} values per row, more than a batch job reads.")
            : (shape, (int)width);
    }

    private static string Mismatch(IReadOnlyList<string> columns, IReadOnlyList<TensorInfo> inputs, (long[] Shape, int Width)[] shapes,
        InputFormat format, char delimiter)
    {
        string expected = string.Join(", ", inputs.Select((i, n) => $"'{i.Name}' ({shapes[n].Width} value{(shapes[n].Width == 1 ? "" : "s")} per row)"));
        string message = $"the input's {columns.Count} column(s) ({Preview(columns)}) do not fit the model's input(s) {expected}: " +
            (inputs.Count == 1
                ? $"give {shapes[0].Width} feature columns, name a column after the input, or pass --map {inputs[0].Name}=COL1,COL2,…"
                : "name a column after each input, or pass --map INPUT=COL,… for each.");
        if (format == InputFormat.Csv && columns.Count == 1)
        {
            char? other = new[] { ';', '\t', ',', '|' }.Where(c => c != delimiter).Cast<char?>().FirstOrDefault(c => columns[0].Contains(c!.Value));
            if (other is { } found)
            {
                message += $" The header is one column holding '{Printable(found)}': is the delimiter '{Printable(found)}'? Pass --delimiter '{Printable(found)}'.";
            }
        }

        if (format == InputFormat.Csv && columns.Count > 0 && columns.All(c => double.TryParse(c, System.Globalization.CultureInfo.InvariantCulture, out _)))
        {
            message += " The first line looks like data, not a header: CSV input needs a header line naming the columns.";
        }

        return message;
    }

    private static string Printable(char c) => c == '\t' ? "\\t" : c.ToString();

    private static string Preview(IReadOnlyList<string> columns) =>
        columns.Count <= 8 ? string.Join(", ", columns.Select(c => $"'{c}'")) : string.Join(", ", columns.Take(8).Select(c => $"'{c}'")) + $", … ({columns.Count} in all)";
}
