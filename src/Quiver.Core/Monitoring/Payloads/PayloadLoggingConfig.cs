namespace Quiver.Core.Monitoring.Payloads;

/// <summary>A model's payload logging: the share of requests logged, the data kept per request, the inputs never logged in clear.</summary>
public sealed record PayloadLoggingConfig(double SampleRate = 1.0, int MaxPayloadBytes = 65536)
{
    /// <summary>Inputs whose values are logged as pseudonyms (keyed hashes), never in clear.</summary>
    public IReadOnlyList<string> SensitiveInputs { get; init; } = [];
}
