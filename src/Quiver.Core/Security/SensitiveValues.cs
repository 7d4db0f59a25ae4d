using System.Globalization;
using Quiver.Core.Models;

namespace Quiver.Core.Security;

/// <summary>
/// One model's privacy rule: which inputs and request parameters are sensitive (<c>sensitive_inputs</c>,
/// <c>sensitive_parameters</c> in its config.json), and the server's pseudonymizer that stands in for their values
/// wherever they would be logged or stored: payload logs, batch error files, audit details, error messages. Without a
/// pseudonymizer (<c>quiver batch run</c> without <c>--pseudonym-key</c>) their values are not shown at all.
/// </summary>
public sealed class SensitiveValues(IReadOnlyCollection<string> inputs, IReadOnlyCollection<string> parameters, Pseudonymizer? pseudonymizer)
{
    private readonly HashSet<string> _inputs = new(inputs, StringComparer.Ordinal);
    private readonly HashSet<string> _parameters = new(parameters, StringComparer.Ordinal);

    /// <summary>The rule of a model's config.</summary>
    public static SensitiveValues For(ModelConfig config, Pseudonymizer? pseudonymizer) =>
        new(config.SensitiveInputs, config.SensitiveParameters, pseudonymizer);

    /// <summary>The key that makes the pseudonyms (equal values give equal pseudonyms under one key); null when there is none at hand.</summary>
    public Pseudonymizer? Pseudonymizer { get; } = pseudonymizer;

    /// <summary>Whether any input or parameter is sensitive.</summary>
    public bool Any => _inputs.Count > 0 || _parameters.Count > 0;

    public bool IsSensitiveInput(string name) => _inputs.Contains(name);

    public bool IsSensitiveParameter(string name) => _parameters.Contains(name);

    /// <summary>An input's value as it may be written down: itself, or its pseudonym when the input is sensitive.</summary>
    public string ShowInput(string input, string value) => _inputs.Contains(input) ? Hide(value) : value;

    /// <summary>A parameter's value as it may be written down: itself (invariant culture), or its pseudonym when sensitive.</summary>
    public string ShowParameter(string parameter, object value)
    {
        string text = Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
        return _parameters.Contains(parameter) ? Hide(text) : text;
    }

    private string Hide(string value) => Pseudonymizer?.Pseudonym(value) ?? "(not shown: sensitive)";
}
