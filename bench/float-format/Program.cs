// Checks Quiver.Core.Text.ShortestFloat against .NET's own float formatting, the oracle:
//   verify  every finite float of the 2^32 bit patterns, in parallel over the cores
//   speed   ns per value, ours and .NET's, on 10 million typical model outputs
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Quiver.Core.Text;

return args switch
{
    ["verify"] => Verify(),
    ["speed"] => Speed(),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: FloatFormatBench verify|speed");
    return 2;
}

static int Verify()
{
    const int MaxReported = 10;
    const int Chunks = 4096; // 2^20 bit patterns each
    var mismatches = new List<string>();
    long checkedCount = 0;
    int longest = 0;
    var clock = Stopwatch.StartNew();
    Parallel.For(0, Chunks, (chunk, state) =>
    {
        Span<byte> ours = stackalloc byte[32];
        Span<byte> theirs = stackalloc byte[32];
        long count = 0;
        int chunkLongest = 0;
        ulong first = (ulong)chunk << 20;
        for (ulong pattern = first; pattern < first + (1UL << 20); pattern++)
        {
            uint bits = (uint)pattern;
            float value = BitConverter.UInt32BitsToSingle(bits);
            if (!float.IsFinite(value))
            {
                continue;
            }

            int ourLength = ShortestFloat.Format(value, ours);
            value.TryFormat(theirs, out int theirLength, default, CultureInfo.InvariantCulture);
            count++;
            chunkLongest = Math.Max(chunkLongest, ourLength);
            if (!ours[..ourLength].SequenceEqual(theirs[..theirLength]))
            {
                lock (mismatches)
                {
                    if (mismatches.Count < MaxReported)
                    {
                        mismatches.Add($"0x{bits:X8}: ours \"{Encoding.UTF8.GetString(ours[..ourLength])}\", .NET \"{Encoding.UTF8.GetString(theirs[..theirLength])}\"");
                    }

                    if (mismatches.Count >= MaxReported)
                    {
                        state.Stop();
                    }
                }
            }
        }

        Interlocked.Add(ref checkedCount, count);
        InterlockedMax(ref longest, chunkLongest);
    });

    Console.WriteLine($"checked {checkedCount:N0} finite floats in {clock.Elapsed.TotalSeconds:F0} s on {Environment.ProcessorCount} cores");
    Console.WriteLine($"longest text: {longest} bytes (ShortestFloat.MaxLength = {ShortestFloat.MaxLength})");
    Console.WriteLine($"mismatches: {mismatches.Count}{(mismatches.Count >= MaxReported ? " (stopped at the first " + MaxReported + ")" : "")}");
    foreach (string mismatch in mismatches)
    {
        Console.WriteLine("  " + mismatch);
    }

    return mismatches.Count == 0 && longest <= ShortestFloat.MaxLength ? 0 : 1;
}

static void InterlockedMax(ref int target, int value)
{
    int current = Volatile.Read(ref target);
    while (value > current)
    {
        int seen = Interlocked.CompareExchange(ref target, value, current);
        if (seen == current)
        {
            return;
        }

        current = seen;
    }
}

static int Speed()
{
    const int Count = 10_000_000;
    float[] values = ModelOutputs(Count);
    var buffer = new byte[Count * ShortestFloat.MaxLength + ShortestFloat.MaxLength];

    // Warm-up runs let tiered compilation reach its optimized code before the timed runs.
    for (int round = 0; round < 3; round++)
    {
        long oursBytes = Time(values, buffer, ours: true, out double oursNs);
        long dotnetBytes = Time(values, buffer, ours: false, out double dotnetNs);
        if (oursBytes != dotnetBytes)
        {
            Console.Error.WriteLine($"output lengths differ: ours {oursBytes}, .NET {dotnetBytes}");
            return 1;
        }

        if (round == 2)
        {
            Console.WriteLine($"{Count:N0} values (half softmax probabilities, half uniform in [-10, 10]), {oursBytes / (double)Count:F1} bytes each");
            Console.WriteLine($"ShortestFloat.Format: {oursNs,6:F1} ns/value");
            Console.WriteLine($".NET float.TryFormat: {dotnetNs,6:F1} ns/value");
            Console.WriteLine($"speed-up: {dotnetNs / oursNs:F1}x");
        }
    }

    return 0;
}

static long Time(float[] values, byte[] buffer, bool ours, out double nsPerValue)
{
    var clock = Stopwatch.StartNew();
    Span<byte> output = buffer;
    int position = 0;
    foreach (float value in values)
    {
        if (ours)
        {
            position += ShortestFloat.Format(value, output[position..]);
        }
        else
        {
            value.TryFormat(output[position..], out int written, default, CultureInfo.InvariantCulture);
            position += written;
        }
    }

    nsPerValue = clock.Elapsed.TotalNanoseconds / values.Length;
    return position;
}

// Softmax rows of 10 classes over normal logits, and uniform values in [-10, 10], seeded.
static float[] ModelOutputs(int count)
{
    var random = new Random(20240601);
    var values = new float[count];
    const int Classes = 10;
    Span<double> logits = stackalloc double[Classes];
    for (int row = 0; row < count / 2 / Classes; row++)
    {
        double sum = 0;
        for (int c = 0; c < Classes; c++)
        {
            double normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            logits[c] = Math.Exp(3 * normal);
            sum += logits[c];
        }

        for (int c = 0; c < Classes; c++)
        {
            values[(row * Classes) + c] = (float)(logits[c] / sum);
        }
    }

    for (int i = count / 2; i < count; i++)
    {
        values[i] = (float)((random.NextDouble() * 20) - 10);
    }

    return values;
}
