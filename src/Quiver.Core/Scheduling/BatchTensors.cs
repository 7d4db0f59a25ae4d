using Quiver.Onnx;

namespace Quiver.Core.Scheduling;

/// <summary>Joins tensors along the first dimension and takes rows back out of them.</summary>
internal static class BatchTensors
{
    /// <summary>One input per name, the requests' tensors stacked in order (they share every dimension but the first).</summary>
    public static NamedTensor[] Concatenate(IReadOnlyList<ScheduledRequest> batch)
    {
        NamedTensor[] first = batch[0].Inputs;
        var joined = new NamedTensor[first.Length];
        for (int i = 0; i < first.Length; i++)
        {
            joined[i] = new NamedTensor(first[i].Name, Join(batch.Select(r => r.Inputs[i].Value).ToArray()));
        }

        return joined;
    }

    /// <summary>Tensors that share every dimension but the first, stacked along it in order.</summary>
    public static TensorValue Join(IReadOnlyList<TensorValue> parts)
    {
        TensorValue sample = parts[0];
        long[] shape = [parts.Sum(p => p.Shape[0]), .. sample.Shape[1..]];
        if (sample.ElementType == TensorElementType.String)
        {
            return TensorValue.FromStrings(shape, parts.SelectMany(p => p.Strings!).ToArray());
        }

        var data = new byte[parts.Sum(p => p.Data.Length)];
        int offset = 0;
        foreach (TensorValue part in parts)
        {
            part.Data.Span.CopyTo(data.AsSpan(offset));
            offset += part.Data.Length;
        }

        return TensorValue.FromBytes(sample.ElementType, shape, data);
    }

    /// <summary>Rows [<paramref name="start"/>, start + <paramref name="count"/>) of a tensor batched along its first dimension, without a copy.</summary>
    public static TensorValue Rows(TensorValue value, long start, long count)
    {
        long total = value.Shape[0];
        long perRow = total == 0 ? 0 : value.ElementCount / total;
        long[] shape = [count, .. value.Shape[1..]];
        if (value.ElementType == TensorElementType.String)
        {
            return TensorValue.FromStrings(shape, value.Strings![(int)(start * perRow)..(int)((start + count) * perRow)]);
        }

        int size = ElementTypes.SizeOf(value.ElementType);
        return TensorValue.FromBytes(value.ElementType, shape, value.Data.Slice((int)(start * perRow * size), (int)(count * perRow * size)));
    }

    /// <summary>Each request's rows of every output, in the batch's order.</summary>
    public static TensorValue[][] Split(TensorValue[] outputs, IReadOnlyList<ScheduledRequest> batch, IReadOnlyList<string> outputNames)
    {
        long total = batch.Sum(r => r.Rows);
        var parts = new TensorValue[batch.Count][];
        for (int r = 0; r < batch.Count; r++)
        {
            parts[r] = new TensorValue[outputs.Length];
        }

        for (int o = 0; o < outputs.Length; o++)
        {
            TensorValue output = outputs[o];
            if (output.Shape.Length == 0 || output.Shape[0] != total)
            {
                throw new InvalidOperationException(
                    $"output '{outputNames[o]}' has shape [{string.Join(',', output.Shape)}], not batched along the first dimension " +
                    $"({total} rows), so it cannot be split per request; turn dynamic_batching off for this model");
            }

            long start = 0;
            for (int r = 0; r < batch.Count; r++)
            {
                parts[r][o] = Rows(output, start, batch[r].Rows);
                start += batch[r].Rows;
            }
        }

        return parts;
    }
}
