using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>What runs a job's batches: an ONNX Runtime session of its own (CLI), or a served model's scheduler (server).</summary>
public interface IBatchEngine
{
    /// <summary>The model's inputs, in the model's order, with the batch dimension (-1) first.</summary>
    IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>The model's outputs, in the model's order.</summary>
    IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>The most rows one run may take; 0 for no limit.</summary>
    int MaxBatchSize { get; }

    /// <summary>Runs one batch; every output in <see cref="Outputs"/> order. Throws <see cref="BatchException"/> when the model fails.</summary>
    TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken);
}

/// <summary>Runs batches straight through an <see cref="InferenceSession"/>.</summary>
public sealed class SessionEngine(InferenceSession session) : IBatchEngine
{
    public IReadOnlyList<TensorInfo> Inputs => session.Inputs;

    public IReadOnlyList<TensorInfo> Outputs => session.Outputs;

    public int MaxBatchSize => 0;

    public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken)
    {
        try
        {
            return session.Run(inputs, null, cancellationToken);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BatchException(BatchErrorKind.Model, e.Message, e);
        }
    }
}
