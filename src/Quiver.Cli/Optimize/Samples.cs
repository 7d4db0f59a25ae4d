using Quiver.Onnx;

namespace Quiver.Cli.Optimize;

/// <summary>One input of one sample: its element type, its shape without the batch dimension, and its raw little-endian bytes.</summary>
public sealed record SampleTensor(TensorElementType Type, long[] Shape, byte[] Data);

/// <summary>One validation sample: a tensor for every model input, by input name.</summary>
public sealed record Sample(IReadOnlyDictionary<string, SampleTensor> Inputs)
{
    /// <summary>A key equal for samples whose inputs have the same shapes, so they can share a batch.</summary>
    public string ShapeKey => string.Join(";", Inputs.OrderBy(i => i.Key, StringComparer.Ordinal)
        .Select(i => i.Key + ":" + string.Join(",", i.Value.Shape)));
}

/// <summary>Stacks samples into batches: the leading dimension counts the samples.</summary>
public static class Batches
{
    /// <summary>Consecutive samples of equal shapes grouped into batches of at most <paramref name="batchSize"/>.</summary>
    public static IEnumerable<IReadOnlyList<Sample>> Group(IReadOnlyList<Sample> samples, int batchSize)
    {
        var batch = new List<Sample>();
        foreach (Sample sample in samples)
        {
            if (batch.Count == batchSize || (batch.Count > 0 && batch[0].ShapeKey != sample.ShapeKey))
            {
                yield return batch;
                batch = [];
            }

            batch.Add(sample);
        }

        if (batch.Count > 0)
        {
            yield return batch;
        }
    }

    /// <summary>The batch's inputs as tensors of shape [samples, ...sample shape].</summary>
    public static NamedTensor[] Stack(IReadOnlyList<Sample> batch)
    {
        var tensors = new List<NamedTensor>();
        foreach ((string name, SampleTensor first) in batch[0].Inputs)
        {
            var data = new byte[first.Data.Length * batch.Count];
            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].Inputs[name].Data.CopyTo(data, i * first.Data.Length);
            }

            long[] shape = [batch.Count, .. first.Shape];
            tensors.Add(new NamedTensor(name, TensorValue.FromBytes(first.Type, shape, data)));
        }

        return [.. tensors];
    }

    /// <summary>A batch of exactly <paramref name="size"/> samples, cycling through those shaped like the first sample.</summary>
    public static NamedTensor[] Cycle(IReadOnlyList<Sample> samples, int size)
    {
        string key = samples[0].ShapeKey;
        var alike = samples.Where(s => s.ShapeKey == key).ToList();
        return Stack(Enumerable.Range(0, size).Select(i => alike[i % alike.Count]).ToList());
    }
}
