namespace Quiver.Core.Monitoring.Payloads;

/// <summary>
/// A model's payload logging: the share of requests logged and the data kept per request. Which inputs are logged only
/// as pseudonyms is the model's <see cref="Models.ModelConfig.SensitiveInputs"/>.
/// </summary>
public sealed record PayloadLoggingConfig(double SampleRate = 1.0, int MaxPayloadBytes = 65536);
