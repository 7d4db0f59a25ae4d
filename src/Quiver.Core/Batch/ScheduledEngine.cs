using Quiver.Core.Models;
using Quiver.Core.Scheduling;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>
/// Runs a server-side job's batches through the served model's scheduler in its batch priority class (the request
/// parameter priority = 2), so they run only while no online request waits. A batch goes to the model in pieces of
/// at most <see cref="PieceRows"/> rows: a piece, once started, holds the model's instance until it ends, and an
/// online request that arrives meanwhile waits for no more than one piece.
/// </summary>
public sealed class ScheduledEngine : IBatchEngine
{
    /// <summary>
    /// The most rows of a job in one model run. At 32 rows a model runs near its batched speed (bench_wide, one thread:
    /// 116,794 inferences/s at 32 against 116,581 at 128; docs/benchmarks.md), and an online request behind a piece
    /// waits a quarter of what it would behind 128.
    /// </summary>
    public const int PieceRows = 32;

    private static readonly Parameters s_batchPriority = new(new Dictionary<string, object> { ["priority"] = 2L });

    private readonly InferenceService _service;
    private readonly string _model;
    private readonly string _version;

    public ScheduledEngine(InferenceService service, ServedModel model)
    {
        _service = service;
        _model = model.Name;
        _version = model.VersionText;
        Inputs = model.ModelInputs.Select(ToInfo).ToArray();
        Outputs = model.ModelOutputs.Select(ToInfo).ToArray();
        MaxBatchSize = model.Config.MaxBatchSize;
    }

    public IReadOnlyList<TensorInfo> Inputs { get; }

    public IReadOnlyList<TensorInfo> Outputs { get; }

    public int MaxBatchSize { get; }

    // The outputs come from the scheduler, which shares runs between requests: it keeps its own memory.
    public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, OutputMemory? outputMemory, CancellationToken cancellationToken)
    {
        long rows = inputs[0].Value.Shape[0];
        if (MaxBatchSize == 0 || rows <= PieceRows)
        {
            return RunPiece(inputs, cancellationToken);
        }

        var pieces = new List<TensorValue[]>();
        for (long start = 0; start < rows; start += PieceRows)
        {
            long count = Math.Min(PieceRows, rows - start);
            pieces.Add(RunPiece(inputs.Select(i => new NamedTensor(i.Name, BatchTensors.Rows(i.Value, start, count))).ToArray(), cancellationToken));
        }

        return Enumerable.Range(0, Outputs.Count).Select(o => BatchTensors.Join(pieces.Select(p => p[o]).ToArray())).ToArray();
    }

    private TensorValue[] RunPiece(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken)
    {
        var tensors = new InferenceTensor[inputs.Count];
        for (int i = 0; i < inputs.Count; i++)
        {
            TensorValue value = inputs[i].Value;
            tensors[i] = value.Strings is { } strings
                ? new InferenceTensor(inputs[i].Name, value.Shape, strings)
                : new InferenceTensor(inputs[i].Name, FromOnnx(value.ElementType), value.Shape, value.Data);
        }

        var request = new InferenceRequest { ModelName = _model, ModelVersion = _version, Inputs = tensors, Parameters = s_batchPriority };
        // The job runs on its own thread: waiting here blocks no request thread.
        InferResult result = _service.InferAsync(request, cancellationToken).AsTask().GetAwaiter().GetResult();
        if (result.Error is { } error)
        {
            throw new BatchException(BatchErrorKind.Model, error.Message);
        }

        var outputs = new TensorValue[Outputs.Count];
        for (int o = 0; o < outputs.Length; o++)
        {
            InferenceTensor tensor = result.Response!.Outputs.FirstOrDefault(t => t.Name == Outputs[o].Name)
                ?? throw new BatchException(BatchErrorKind.Model, $"the response has no output '{Outputs[o].Name}'.");
            outputs[o] = tensor.Bytes is { } bytes
                ? TensorValue.FromStrings(tensor.Shape, bytes)
                : TensorValue.FromBytes(tensor.DataType.ToOnnx(), tensor.Shape, tensor.Data);
        }

        return outputs;
    }

    private static TensorInfo ToInfo(TensorSpec spec) =>
        new(spec.Name, spec.DataType.ToOnnx(), spec.Shape, spec.Shape.Select(_ => "").ToArray());

    private static DataType FromOnnx(TensorElementType type) =>
        DataTypes.TryFromOnnx(type, out DataType dataType) ? dataType : throw new BatchException(BatchErrorKind.Model, $"no protocol datatype for {type}.");
}
