namespace Quiver.Core.Tensors;

/// <summary>
/// Checks a decoded request against a model's signature before it reaches ONNX Runtime, so a bad request
/// gets a message naming the input and what was expected instead of an engine error. Runs on every
/// request: nothing is allocated unless the request is wrong.
/// </summary>
public static class RequestValidator
{
    /// <summary>Null when the request fits; otherwise the first problem found, as an InvalidArgument error.</summary>
    public static InferenceError? Validate(InferenceRequest request, IReadOnlyList<TensorSpec> inputs, IReadOnlyList<TensorSpec> outputs, int maxBatchSize)
    {
        for (int i = 0; i < request.Inputs.Count; i++)
        {
            InferenceTensor tensor = request.Inputs[i];
            TensorSpec? spec = Find(inputs, tensor.Name);
            if (spec is null)
            {
                return Invalid($"model has no input '{tensor.Name}'; its inputs are: {Names(inputs)}");
            }

            for (int j = 0; j < i; j++)
            {
                if (request.Inputs[j].Name == tensor.Name)
                {
                    return Invalid($"input '{tensor.Name}' is given more than once");
                }
            }

            if (CheckInput(tensor, spec, maxBatchSize) is { } problem)
            {
                return Invalid(problem);
            }
        }

        foreach (TensorSpec spec in inputs)
        {
            if (!Contains(request.Inputs, spec.Name))
            {
                return Invalid($"input '{spec.Name}' is missing; the model needs: {Names(inputs)}");
            }
        }

        // With batching, the first dimension is the batch: every input must have the same one.
        if (maxBatchSize > 0 && request.Inputs.Count > 1)
        {
            InferenceTensor first = request.Inputs[0];
            for (int i = 1; i < request.Inputs.Count; i++)
            {
                InferenceTensor other = request.Inputs[i];
                if (first.Shape.Length > 0 && other.Shape.Length > 0 && first.Shape[0] != other.Shape[0])
                {
                    return Invalid($"inputs '{first.Name}' and '{other.Name}' have batch sizes {first.Shape[0]} and {other.Shape[0]}; " +
                        "every input of a request must have the same first dimension");
                }
            }
        }

        return request.Outputs is { } requested ? CheckOutputs(requested, outputs) : null;
    }

    private static string? CheckInput(InferenceTensor tensor, TensorSpec spec, int maxBatchSize)
    {
        if (tensor.DataType != spec.DataType)
        {
            return $"input '{tensor.Name}' has datatype {tensor.DataType.Name()}; the model expects {spec.DataType.Name()}";
        }

        long[] shape = tensor.Shape;
        if (shape.Length != spec.Shape.Length)
        {
            return $"input '{tensor.Name}' has shape {Shapes.Format(shape)} of rank {shape.Length}; " +
                $"the model expects rank {spec.Shape.Length}, shape {Shapes.Format(spec.Shape)}";
        }

        for (int d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0)
            {
                return $"input '{tensor.Name}' has a negative dimension in shape {Shapes.Format(shape)}";
            }

            if (spec.Shape[d] >= 0 && spec.Shape[d] != shape[d])
            {
                return $"input '{tensor.Name}' has shape {Shapes.Format(shape)}; the model expects {Shapes.Format(spec.Shape)}";
            }
        }

        // Triton's rule: with max_batch_size > 0 the first dimension is the batch and is bounded by it.
        if (maxBatchSize > 0 && shape.Length > 0 && spec.Shape[0] < 0 && shape[0] > maxBatchSize)
        {
            return $"input '{tensor.Name}' has batch size {shape[0]}, more than the model's max_batch_size {maxBatchSize}";
        }

        long expected = Shapes.ElementCount(shape);
        long actual = tensor.DataType == DataType.Bytes
            ? tensor.Bytes!.Length
            : tensor.Data.Length / tensor.DataType.ElementSize();
        if (expected < 0)
        {
            return $"input '{tensor.Name}' has shape {Shapes.Format(shape)}, whose element count does not fit in 64 bits";
        }

        bool wholeElements = tensor.DataType == DataType.Bytes || tensor.Data.Length % tensor.DataType.ElementSize() == 0;
        return expected == actual && wholeElements
            ? null
            : $"input '{tensor.Name}' has shape {Shapes.Format(shape)}, which needs {expected} elements, but data has {actual}";
    }

    private static InferenceError? CheckOutputs(IReadOnlyList<RequestedOutput> requested, IReadOnlyList<TensorSpec> outputs)
    {
        for (int i = 0; i < requested.Count; i++)
        {
            string name = requested[i].Name;
            if (Find(outputs, name) is null)
            {
                return Invalid($"model has no output '{name}'; its outputs are: {Names(outputs)}");
            }

            for (int j = 0; j < i; j++)
            {
                if (requested[j].Name == name)
                {
                    return Invalid($"output '{name}' is requested more than once");
                }
            }
        }

        return null;
    }

    private static TensorSpec? Find(IReadOnlyList<TensorSpec> specs, string name)
    {
        for (int i = 0; i < specs.Count; i++)
        {
            if (specs[i].Name == name)
            {
                return specs[i];
            }
        }

        return null;
    }

    private static bool Contains(IReadOnlyList<InferenceTensor> tensors, string name)
    {
        for (int i = 0; i < tensors.Count; i++)
        {
            if (tensors[i].Name == name)
            {
                return true;
            }
        }

        return false;
    }

    private static string Names(IReadOnlyList<TensorSpec> specs) => string.Join(", ", specs.Select(s => s.Name));

    private static InferenceError Invalid(string message) => new(ErrorKind.InvalidArgument, message);
}
