using Quiver.Core.Tensors;

namespace Quiver.Cli.Bench;

/// <summary>
/// Decides what every request carries: from a data file, or random data of the model's datatypes in the
/// shapes given with <c>--shape</c> ("1,64" for every input, "name:1,64" for one), open dimensions
/// otherwise being 1. Checks each shape against the model before anything is sent.
/// </summary>
public static class InputPlan
{
    /// <summary>The inputs of every request and the inferences each request carries (its batch size).</summary>
    public static (IReadOnlyList<InputTensor> Inputs, long BatchSize) Build(ServedModelInfo model, IReadOnlyList<string> shapes, string? dataFile, int seed)
    {
        if (model.Inputs.Count == 0)
        {
            throw new BenchException($"model '{model.Name}' declares no inputs.");
        }

        IReadOnlyList<InputTensor> inputs = dataFile is not null
            ? InputDataFile.Read(dataFile, model)
            : RandomInputs(model, ParseShapes(shapes, model), seed);
        foreach (InputTensor input in inputs)
        {
            CheckShape(model, model.Inputs.First(i => i.Name == input.Name), input.Shape);
        }

        long batch = model.MaxBatchSize > 0 ? inputs[0].Shape[0] : 1;
        return (inputs, batch);
    }

    /// <summary>Fails unless <paramref name="shape"/> has the input's rank and its fixed dimensions (and a batch within max_batch_size).</summary>
    public static void CheckShape(ServedModelInfo model, ServedInput input, long[] shape)
    {
        string expected = $"input '{input.Name}' of model '{model.Name}' has shape {ArgumentValues.FormatShape(input.Shape)}";
        if (shape.Length != input.Shape.Length)
        {
            throw new BenchException(
                $"shape {ArgumentValues.FormatShape(shape)} has {shape.Length} dimensions, but {expected} ({input.Shape.Length} dimensions, batch included).");
        }

        for (int d = 0; d < shape.Length; d++)
        {
            if (input.Shape[d] >= 0 && input.Shape[d] != shape[d])
            {
                throw new BenchException($"shape {ArgumentValues.FormatShape(shape)} does not fit: {expected}, so dimension {d} must be {input.Shape[d]}.");
            }
        }

        if (model.MaxBatchSize > 0 && (shape[0] < 1 || shape[0] > model.MaxBatchSize))
        {
            throw new BenchException($"batch size {shape[0]} (the first dimension of {ArgumentValues.FormatShape(shape)}) must be 1 to {model.MaxBatchSize}, the max_batch_size of model '{model.Name}'.");
        }
    }

    private static Dictionary<string, long[]> ParseShapes(IReadOnlyList<string> shapes, ServedModelInfo model)
    {
        var byInput = new Dictionary<string, long[]>(StringComparer.Ordinal);
        long[]? common = null;
        foreach (string text in shapes)
        {
            int colon = text.LastIndexOf(':');
            if (colon < 0)
            {
                common = ArgumentValues.Shape(text, "--shape");
                continue;
            }

            string name = text[..colon];
            if (model.Inputs.All(i => i.Name != name))
            {
                throw new BenchException($"--shape '{text}': model '{model.Name}' has no input '{name}'; its inputs are {string.Join(", ", model.Inputs.Select(i => i.Name))}.");
            }

            byInput[name] = ArgumentValues.Shape(text[(colon + 1)..], "--shape");
        }

        foreach (ServedInput input in model.Inputs)
        {
            if (!byInput.ContainsKey(input.Name))
            {
                byInput[input.Name] = common ?? input.Shape.Select(d => d < 0 ? 1 : d).ToArray();
            }
        }

        return byInput;
    }

    private static List<InputTensor> RandomInputs(ServedModelInfo model, Dictionary<string, long[]> shapes, int seed)
    {
        var random = new Random(seed);
        var inputs = new List<InputTensor>();
        foreach (ServedInput input in model.Inputs)
        {
            if (!DataTypes.TryParse(input.Datatype, out DataType type))
            {
                throw new BenchException($"input '{input.Name}' has datatype '{input.Datatype}', which the bench cannot generate.");
            }

            inputs.Add(RandomTensorData.Create(input.Name, type, shapes[input.Name], random));
        }

        return inputs;
    }
}
