namespace Quiver.Core.Tensors;

/// <summary>A protocol-neutral inference response.</summary>
public sealed record InferenceResponse
{
    public required string ModelName { get; init; }

    public required string ModelVersion { get; init; }

    /// <summary>The request's id, echoed.</summary>
    public string? Id { get; init; }

    public Parameters Parameters { get; init; } = Parameters.Empty;

    public required IReadOnlyList<InferenceTensor> Outputs { get; init; }
}
