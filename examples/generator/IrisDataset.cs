using System.Globalization;

namespace Quiver.Examples.Generator;

/// <summary>Fisher's Iris data (1936, public domain): 150 flowers, 4 measurements in cm, 3 species.</summary>
/// <remarks>Rows 35 and 38 carry Fisher's published values, not the two typos of the common UCI copy.</remarks>
public sealed class IrisDataset
{
    /// <summary>Species names in class-index order, as written to labels.txt.</summary>
    public static readonly IReadOnlyList<string> Species = ["setosa", "versicolor", "virginica"];

    /// <summary>Measurement names in feature order.</summary>
    public static readonly IReadOnlyList<string> Features = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

    private IrisDataset(double[][] features, int[] labels)
    {
        Rows = features;
        Labels = labels;
    }

    /// <summary>One array of the 4 measurements per flower.</summary>
    public IReadOnlyList<double[]> Rows { get; }

    /// <summary>The species index of each flower.</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>Loads the copy embedded in this assembly (iris.csv).</summary>
    public static IrisDataset Load()
    {
        using var stream = typeof(IrisDataset).Assembly.GetManifestResourceStream("iris.csv")
            ?? throw new InvalidOperationException("iris.csv is not embedded in the generator assembly.");
        using var reader = new StreamReader(stream);
        var header = reader.ReadLine();
        if (header != string.Join(',', Features) + ",species")
        {
            throw new InvalidDataException($"Unexpected iris.csv header: {header}");
        }

        var features = new List<double[]>();
        var labels = new List<int>();
        while (reader.ReadLine() is { Length: > 0 } line)
        {
            var cells = line.Split(',');
            features.Add(cells[..4].Select(c => double.Parse(c, CultureInfo.InvariantCulture)).ToArray());
            var label = Species.ToList().IndexOf(cells[4]);
            labels.Add(label >= 0 ? label : throw new InvalidDataException($"Unknown species '{cells[4]}'."));
        }

        return new IrisDataset([.. features], [.. labels]);
    }
}
