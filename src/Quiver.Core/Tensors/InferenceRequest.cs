namespace Quiver.Core.Tensors;

/// <summary>A protocol-neutral inference request, as REST and gRPC decode it.</summary>
public sealed record InferenceRequest
{
    /// <summary>The client's request id, echoed in the response.</summary>
    public string? Id { get; init; }

    /// <summary>The model (or, later, endpoint) name.</summary>
    public required string ModelName { get; init; }

    /// <summary>The explicit version, or null for the model's default version.</summary>
    public string? ModelVersion { get; init; }

    /// <summary>The input tensors.</summary>
    public required IReadOnlyList<InferenceTensor> Inputs { get; init; }

    /// <summary>The outputs asked for; null means every output of the model.</summary>
    public IReadOnlyList<RequestedOutput>? Outputs { get; init; }

    /// <summary>Request-level parameters.</summary>
    public Parameters Parameters { get; init; } = Parameters.Empty;
}

/// <summary>An output the client asked for, with its per-output parameters (e.g. classification).</summary>
public sealed record RequestedOutput(string Name, Parameters Parameters);
