using Quiver.Onnx;

namespace Quiver.Core.Scheduling;

/// <summary>Joins requests' inputs along the first dimension and splits a batch's outputs back per request.</summary>
internal static class BatchTensors
{
    /// <summary>One input per name, the requests' tensors stacked in order (they share every dimension but the first).</summary>
    public static NamedTensor[] Concatenate(IReadOnlyList<ScheduledRequest> batch)
    {
        NamedTensor[] first = batch[0].Inputs;
        var joined = new NamedTensor[first.Length];
        for (int i = 0; i < first.Length; i++)
        {
            TensorValue sample = first[i].Value;
            long rows = 0;
            foreach (ScheduledRequest request in batch)
            {
                rows += request.Inputs[i].Value.Shape[0];
            }

            long[] shape = [rows, .. sample.Shape[1..]];
            if (sample.ElementType == TensorElementType.String)
            {
                joined[i] = new NamedTensor(first[i].Name, TensorValue.FromStrings(shape, batch.SelectMany(r => r.Inputs[i].Value.Strings!).ToArray()));
                continue;
            }

            var data = new byte[batch.Sum(r => r.Inputs[i].Value.Data.Length)];
            int offset = 0;
            foreach (ScheduledRequest request in batch)
            {
                ReadOnlySpan<byte> part = request.Inputs[i].Value.Data.Span;
                part.CopyTo(data.AsSpan(offset));
                offset += part.Length;
            }

            joined[i] = new NamedTensor(first[i].Name, TensorValue.FromBytes(sample.ElementType, shape, data));
        }

        return joined;
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

            long perRow = total == 0 ? 0 : output.ElementCount / total;
            long start = 0;
            for (int r = 0; r < batch.Count; r++)
            {
                long rows = batch[r].Rows;
                long[] shape = [rows, .. output.Shape[1..]];
                parts[r][o] = output.ElementType == TensorElementType.String
                    ? TensorValue.FromStrings(shape, output.Strings![(int)(start * perRow)..(int)((start + rows) * perRow)])
                    : TensorValue.FromBytes(output.ElementType, shape,
                        output.Data.Slice((int)(start * perRow * ElementTypes.SizeOf(output.ElementType)), (int)(rows * perRow * ElementTypes.SizeOf(output.ElementType))));
                start += rows;
            }
        }

        return parts;
    }
}
