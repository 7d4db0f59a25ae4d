using System.Collections;

namespace Quiver.Core.Tensors;

/// <summary>
/// Protocol parameters: names mapped to a string, a 64-bit integer, a double or a bool, as the
/// Open Inference Protocol allows.
/// </summary>
public sealed class Parameters : IReadOnlyDictionary<string, object>
{
    private readonly Dictionary<string, object> _values;

    public Parameters(Dictionary<string, object> values)
    {
        foreach (var (key, value) in values)
        {
            if (value is not (string or long or double or bool))
            {
                throw new ArgumentException($"Parameter '{key}' must be a string, integer, double or bool, not {value.GetType().Name}.");
            }
        }

        _values = values;
    }

    /// <summary>No parameters.</summary>
    public static Parameters Empty { get; } = new([]);

    public object this[string key] => _values[key];

    public IEnumerable<string> Keys => _values.Keys;

    public IEnumerable<object> Values => _values.Values;

    public int Count => _values.Count;

    public bool ContainsKey(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out object value) =>
        _values.TryGetValue(key, out value);

    /// <summary>Reads an integer parameter; false when absent, an error message when present but not an integer.</summary>
    public bool TryGetInt64(string key, out long value, out string? error)
    {
        error = null;
        value = 0;
        if (!_values.TryGetValue(key, out object? raw))
        {
            return false;
        }

        switch (raw)
        {
            case long l:
                value = l;
                return true;
            case double d when d == Math.Floor(d) && Math.Abs(d) < 9.007199254740992e15:
                value = (long)d;
                return true;
            default:
                error = $"parameter '{key}' must be an integer, got {raw}";
                return false;
        }
    }

    /// <summary>Copies these parameters with one more entry.</summary>
    public Parameters With(string key, object value) => new(new Dictionary<string, object>(_values) { [key] = value });

    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
