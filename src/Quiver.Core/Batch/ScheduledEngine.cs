using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>
/// Runs a server-side job's batches through the served model's scheduler in its batch priority class (the request
/// parameter priority = 2), so they run only while no online request waits and never slow online traffic down.
/// </summary>
public sealed class ScheduledEngine : IBatchEngine
{
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

    public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, CancellationToken cancellationToken)
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
