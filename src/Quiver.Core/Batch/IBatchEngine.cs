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

    /// <summary>
    /// Runs one batch; every output in <see cref="Outputs"/> order. Numeric outputs go into memory from
    /// <paramref name="outputMemory"/> where the engine can, so that a long job reuses its buffers instead of filling the
    /// heap with one garbage array per batch. Throws <see cref="BatchException"/> when the model fails.
    /// </summary>
    TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, OutputMemory? outputMemory, CancellationToken cancellationToken);
}

/// <summary>Runs batches straight through an <see cref="InferenceSession"/>.</summary>
public sealed class SessionEngine(InferenceSession session) : IBatchEngine
{
    public IReadOnlyList<TensorInfo> Inputs => session.Inputs;

    public IReadOnlyList<TensorInfo> Outputs => session.Outputs;

    public int MaxBatchSize => 0;

    public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, OutputMemory? outputMemory, CancellationToken cancellationToken)
    {
        try
        {
            return session.Run(inputs, null, cancellationToken, outputMemory);
        }
        catch (OnnxRuntimeException e)
        {
            throw new BatchException(BatchErrorKind.Model, e.Message, e);
        }
    }
}
