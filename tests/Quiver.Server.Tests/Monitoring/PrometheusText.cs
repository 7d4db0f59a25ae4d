using System.Globalization;
using System.Text;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>
/// A strict parser of the Prometheus text exposition format (0.0.4), written for the tests: every line must
/// be a HELP, a TYPE or a sample of a declared family, labels must be quoted and escaped, histograms must
/// be cumulative and end in +Inf equal to their count. Anything else throws.
/// </summary>
public sealed class PrometheusText
{
    private readonly Dictionary<string, string> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _samples = new(StringComparer.Ordinal);

    public static PrometheusText Parse(string text)
    {
        var parsed = new PrometheusText();
        int number = 0;
        foreach (string line in text.Split('\n'))
        {
            number++;
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                parsed.ParseLine(line);
            }
            catch (FormatException e)
            {
                throw new FormatException($"line {number}: {e.Message}: {line}");
            }
        }

        parsed.CheckHistograms();
        return parsed;
    }

    public string? TypeOf(string family) => _types.GetValueOrDefault(family);

    /// <summary>The value of one series, e.g. Value("nv_inference_count", ("model", "mlp"), ("version", "1")); 0 when absent.</summary>
    /// <summary>The sample's value; fails the test when the scrape has no such series (absent is not zero).</summary>
    public double Value(string name, params (string Name, string Value)[] labels)
    {
        string key = Key(name, labels.OrderBy(l => l.Name, StringComparer.Ordinal).ToArray());
        return _samples.TryGetValue(key, out double value)
            ? value
            : throw new Xunit.Sdk.XunitException($"the scrape has no series {key}; it has {string.Join(", ", _samples.Keys.Where(k => k.StartsWith(name, StringComparison.Ordinal)).Take(10))}");
    }

    /// <summary>The sample's value, or 0 for a series not exported yet (a counter before its first increment).</summary>
    public double ValueOrZero(string name, params (string Name, string Value)[] labels) =>
        _samples.GetValueOrDefault(Key(name, labels.OrderBy(l => l.Name, StringComparer.Ordinal).ToArray()));

    public IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> Samples() =>
        _samples.Select(s => (s.Key.Split('{')[0], ParseKeyLabels(s.Key), s.Value));

    private void ParseLine(string line)
    {
        if (line.StartsWith('#'))
        {
            string[] parts = line.Split(' ', 4);
            if (parts.Length < 3 || parts[0] != "#")
            {
                throw new FormatException("a comment must be '# HELP name text' or '# TYPE name type'");
            }

            if (parts[1] == "TYPE")
            {
                if (parts.Length != 4 || parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped"))
                {
                    throw new FormatException("bad TYPE");
                }

                CheckName(parts[2]);
                if (!_types.TryAdd(parts[2], parts[3]))
                {
                    throw new FormatException($"family {parts[2]} declared twice");
                }
            }
            else if (parts[1] == "HELP")
            {
                CheckName(parts[2]);
            }

            return;
        }

        int i = 0;
        while (i < line.Length && line[i] is not ('{' or ' '))
        {
            i++;
        }

        string name = line[..i];
        CheckName(name);
        var labels = new List<(string, string)>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int start = i;
                while (line[i] != '=')
                {
                    i++;
                }

                string labelName = line[start..i];
                CheckName(labelName);
                if (line[++i] != '"')
                {
                    throw new FormatException("label value must be quoted");
                }

                var value = new StringBuilder();
                for (i++; line[i] != '"'; i++)
                {
                    if (line[i] == '\\')
                    {
                        value.Append(line[++i] switch
                        {
                            '\\' => '\\',
                            '"' => '"',
                            'n' => '\n',
                            _ => throw new FormatException($"bad escape \\{line[i]}"),
                        });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                }

                labels.Add((labelName, value.ToString()));
                i++;
                if (line[i] == ',')
                {
                    i++;
                }
                else if (line[i] != '}')
                {
                    throw new FormatException("labels must be separated by commas");
                }
            }

            i++;
        }

        if (line[i] != ' ')
        {
            throw new FormatException("a single space must separate the series and its value");
        }

        string[] rest = line[(i + 1)..].Split(' ');
        double sample = rest[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            _ => double.Parse(rest[0], NumberStyles.Float, CultureInfo.InvariantCulture),
        };
        string family = FamilyOf(name);
        if (!_types.ContainsKey(family))
        {
            throw new FormatException($"sample of {name} before any TYPE line for {family}");
        }

        if (!_samples.TryAdd(Key(name, [.. labels.OrderBy(l => l.Item1, StringComparer.Ordinal)]), sample))
        {
            throw new FormatException("duplicate series");
        }
    }

    private string FamilyOf(string name)
    {
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && _types.GetValueOrDefault(name[..^suffix.Length]) == "histogram")
            {
                return name[..^suffix.Length];
            }
        }

        return name;
    }

    private void CheckHistograms()
    {
        foreach (string histogram in _types.Where(t => t.Value == "histogram").Select(t => t.Key))
        {
            foreach (var series in Samples().Where(s => s.Name == histogram + "_count"))
            {
                double previous = 0;
                double previousBound = double.NegativeInfinity;
                foreach (var bucket in Samples()
                    .Where(s => s.Name == histogram + "_bucket" && SameSeries(s.Labels, series.Labels))
                    .OrderBy(s => s.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(s.Labels["le"], CultureInfo.InvariantCulture)))
                {
                    double bound = bucket.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(bucket.Labels["le"], CultureInfo.InvariantCulture);
                    if (bucket.Value < previous || bound <= previousBound)
                    {
                        throw new FormatException($"{histogram} buckets are not cumulative");
                    }

                    previous = bucket.Value;
                    previousBound = bound;
                }

                if (!double.IsPositiveInfinity(previousBound) || previous != series.Value)
                {
                    throw new FormatException($"{histogram}'s +Inf bucket must equal its count");
                }
            }
        }
    }

    private static bool SameSeries(Dictionary<string, string> bucket, Dictionary<string, string> count) =>
        bucket.Count == count.Count + 1 && count.All(l => bucket.TryGetValue(l.Key, out string? v) && v == l.Value);

    private static void CheckName(string name)
    {
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] is '_' or ':') || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':'))
        {
            throw new FormatException($"'{name}' is not a valid metric or label name");
        }
    }

    private static string Key(string name, (string Name, string Value)[] labels) =>
        name + "{" + string.Join(",", labels.Select(l => l.Name + "=" + l.Value.Length + ":" + l.Value)) + "}";

    private static Dictionary<string, string> ParseKeyLabels(string key)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        string inner = key[(key.IndexOf('{') + 1)..^1];
        int i = 0;
        while (i < inner.Length)
        {
            int eq = inner.IndexOf('=', i);
            int colon = inner.IndexOf(':', eq);
            int length = int.Parse(inner[(eq + 1)..colon], CultureInfo.InvariantCulture);
            labels[inner[i..eq]] = inner.Substring(colon + 1, length);
            i = colon + 1 + length + 1;
        }

        return labels;
    }
}
