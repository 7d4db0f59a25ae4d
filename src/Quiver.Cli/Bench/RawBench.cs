using System.Diagnostics;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Cli.Bench;

/// <summary>What <c>quiver bench raw</c> runs: a model file in-process, at each batch size, for a fixed time.</summary>
public sealed record RawSettings(string ModelFile, int[] BatchSizes, int Threads, int Sessions, TimeSpan Duration, TimeSpan Warmup, int Seed);

/// <summary>
/// Runs a model straight through <see cref="InferenceSession"/>, with no server, protocol or copy around
/// it: the limit a server can approach. Each session runs in a loop on its own thread.
/// </summary>
public static class RawBench
{
    /// <summary>Loads the sessions once and measures every batch size in turn.</summary>
    public static RawReport Run(RawSettings settings, CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.ModelFile))
        {
            throw new BenchException($"--model-file '{settings.ModelFile}' does not exist.");
        }

        var sessions = new List<InferenceSession>();
        try
        {
            for (int i = 0; i < settings.Sessions; i++)
            {
                sessions.Add(Load(settings));
            }

            var results = new List<RawLevelReport>();
            IReadOnlyList<NamedTensor>? lastInputs = null;
            foreach (int batch in settings.BatchSizes)
            {
                IReadOnlyList<NamedTensor> inputs = Inputs(sessions[0], batch, new Random(settings.Seed));
                RunFor(sessions, inputs, settings.Warmup, cancellationToken);
                long started = Stopwatch.GetTimestamp();
                long[][] latencies = RunFor(sessions, inputs, settings.Duration, cancellationToken);
                double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
                long runs = latencies.Sum(l => (long)l.Length);
                results.Add(new RawLevelReport(batch, runs, runs * batch, elapsed, runs / elapsed, runs * batch / elapsed,
                    LatencySummary.FromTicks(latencies.SelectMany(l => l).ToArray())));
                lastInputs = inputs;
            }

            var inputReports = (lastInputs ?? []).Select(i => new InputReport(i.Name, DatatypeName(i.Value.ElementType), i.Value.Shape)).ToList();
            return new RawReport(RawReport.CurrentSchema, Path.GetFullPath(settings.ModelFile), settings.Threads, settings.Sessions,
                settings.Duration.TotalSeconds, settings.Warmup.TotalSeconds, inputReports, results);
        }
        finally
        {
            foreach (InferenceSession session in sessions)
            {
                session.Dispose();
            }
        }
    }

    private static InferenceSession Load(RawSettings settings)
    {
        try
        {
            return InferenceSession.FromFile(settings.ModelFile, new SessionSettings { IntraOpThreads = settings.Threads });
        }
        catch (OnnxRuntimeException e)
        {
            throw new BenchException($"ONNX Runtime cannot load '{settings.ModelFile}': {e.Message}");
        }
    }

    // The leading dimension takes the batch size; any other dimension the model leaves open is 1.
    private static NamedTensor[] Inputs(InferenceSession session, int batch, Random random)
    {
        var inputs = new NamedTensor[session.Inputs.Count];
        for (int i = 0; i < inputs.Length; i++)
        {
            TensorInfo info = session.Inputs[i];
            if (!DataTypes.TryFromOnnx(info.ElementType, out DataType type))
            {
                throw new BenchException($"input '{info.Name}' has element type {info.ElementType}, which the bench cannot generate.");
            }

            if (info.Shape.Length == 0 || (info.Shape[0] >= 0 && info.Shape[0] != batch))
            {
                throw new BenchException(
                    $"input '{info.Name}' has shape {ArgumentValues.FormatShape(info.Shape)}, with no open batch dimension for --batch {batch}.");
            }

            long[] shape = info.Shape.Select((dim, d) => d == 0 ? batch : dim < 0 ? 1 : dim).ToArray();
            InputTensor data = RandomTensorData.Create(info.Name, type, shape, random);
            TensorValue value = data.Strings is { } strings
                ? TensorValue.FromStrings(shape, strings)
                : TensorValue.FromBytes(info.ElementType, shape, data.Raw);
            inputs[i] = new NamedTensor(info.Name, value);
        }

        return inputs;
    }

    private static long[][] RunFor(List<InferenceSession> sessions, IReadOnlyList<NamedTensor> inputs, TimeSpan duration, CancellationToken cancellationToken)
    {
        var latencies = new long[sessions.Count][];
        var failures = new Exception?[sessions.Count];
        using var start = new ManualResetEventSlim();
        long deadline = 0;
        var threads = new Thread[sessions.Count];
        for (int i = 0; i < threads.Length; i++)
        {
            int index = i;
            threads[i] = new Thread(() =>
            {
                var own = new List<long>(capacity: 1 << 16);
                start.Wait();
                try
                {
                    while (Stopwatch.GetTimestamp() < Volatile.Read(ref deadline) && !cancellationToken.IsCancellationRequested)
                    {
                        long begin = Stopwatch.GetTimestamp();
                        sessions[index].Run(inputs);
                        own.Add(Stopwatch.GetTimestamp() - begin);
                    }
                }
                catch (OnnxRuntimeException e)
                {
                    failures[index] = e;
                }

                latencies[index] = own.ToArray();
            })
            { IsBackground = true, Name = $"bench-raw-{i}" };
            threads[i].Start();
        }

        Volatile.Write(ref deadline, Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency));
        start.Set();
        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (failures.FirstOrDefault(f => f is not null) is { } failure)
        {
            throw new BenchException($"the model failed to run: {failure.Message}");
        }

        return latencies;
    }

    private static string DatatypeName(TensorElementType type) =>
        DataTypes.TryFromOnnx(type, out DataType dataType) ? dataType.Name() : type.ToString();
}
