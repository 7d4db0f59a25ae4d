namespace Quiver.Core.Registry;

/// <summary>What kind of registry failure; the HTTP layer maps it to a status in one place.</summary>
public enum RegistryErrorKind
{
    /// <summary>No such model, version or alias (HTTP 404).</summary>
    NotFound,

    /// <summary>The request clashes with the registry's current state, e.g. an alias on a retired version (HTTP 409).</summary>
    Conflict,

    /// <summary>The request itself is malformed, e.g. a bad name or checksum (HTTP 400).</summary>
    Invalid,

    /// <summary>The registry database cannot be reached or is busy (HTTP 503).</summary>
    Unavailable,
}

/// <summary>A registry failure a caller can cause or must be told about; the message names the problem.</summary>
public sealed class RegistryException(RegistryErrorKind kind, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    /// <summary>What kind of failure this is.</summary>
    public RegistryErrorKind Kind { get; } = kind;

    public static RegistryException NotFound(string message) => new(RegistryErrorKind.NotFound, message);

    /// <summary>What the registry says of a model it does not have (also what another tenant's model reads as).</summary>
    public static RegistryException UnknownModel(string model) => NotFound($"model '{model}' does not exist in the registry.");

    /// <summary>What asking for the rollout of a model without one says (also what another tenant's model reads as).</summary>
    public static RegistryException NoRollout(string model) => NotFound($"model '{model}' has no rollout.");

    /// <summary>What asking for an endpoint that does not exist says (also what another tenant's endpoint reads as).</summary>
    public static RegistryException UnknownEndpoint(string endpoint) => NotFound($"endpoint '{endpoint}' does not exist.");

    public static RegistryException Conflict(string message) => new(RegistryErrorKind.Conflict, message);

    public static RegistryException Invalid(string message) => new(RegistryErrorKind.Invalid, message);
}
