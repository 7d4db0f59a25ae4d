using System.Collections.Concurrent;
using System.Diagnostics;
using Quiver.Core.Tensors;

namespace Quiver.Core.Routing;

/// <summary>
/// Mirrors a share of an endpoint's requests to its shadow after the primary has answered: the client never waits
/// for the shadow and never sees it fail. Shadows run as low-priority work, at most <see cref="MaxInFlight"/> at a
/// time; beyond that they are dropped (and counted), so under load the shadow is what gives way. Each shadow answer is
/// compared with the primary's: agreement (the same top class per row for [batch, classes] outputs, equal values
/// otherwise), the mean absolute difference of the outputs, and both latencies.
/// </summary>
public sealed class ShadowTraffic
{
    public const int MaxInFlight = 4;

    private readonly ConcurrentDictionary<string, ShadowTally> _tallies = new();
    private int _inFlight;

    /// <summary>Starts a shadow run of the request if the sample picks it and there is room; returns at once.</summary>
    public void MaybeMirror(string endpoint, ShadowSpec shadow, InferenceRequest request, InferenceResponse primary, TimeSpan primaryLatency,
        Func<InferenceRequest, CancellationToken, ValueTask<InferResult>> infer)
    {
        if (Random.Shared.NextDouble() * 100 >= shadow.Percent)
        {
            return;
        }

        ShadowTally tally = _tallies.GetOrAdd(endpoint, _ => new ShadowTally());
        if (Interlocked.Increment(ref _inFlight) > MaxInFlight)
        {
            Interlocked.Decrement(ref _inFlight);
            tally.Dropped();
            return;
        }

        // The request's buffers go back to the pool once the client is answered: the shadow gets its own copy.
        InferenceRequest copy = request with
        {
            ModelName = shadow.Model,
            ModelVersion = shadow.Version.Length == 0 ? null : shadow.Version,
            Inputs = request.Inputs.Select(Copy).ToArray(),
            Parameters = new Parameters(new Dictionary<string, object> { ["priority"] = 2L }),
        };
        IReadOnlyList<InferenceTensor> primaryOutputs = primary.Outputs.Select(Copy).ToArray();
        _ = Task.Run(async () =>
        {
            try
            {
                long started = Stopwatch.GetTimestamp();
                InferResult result = await infer(copy, CancellationToken.None);
                tally.Add(primaryOutputs, result.Response?.Outputs, primaryLatency, Stopwatch.GetElapsedTime(started));
            }
            catch (Exception)
            {
                tally.Add(primaryOutputs, null, primaryLatency, TimeSpan.Zero); // a shadow that throws is a disagreement, nothing more
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        });
    }

    /// <summary>An endpoint's shadow figures so far.</summary>
    public ShadowTally.Snapshot Figures(string endpoint) => (_tallies.GetValueOrDefault(endpoint) ?? new ShadowTally()).Take();

    private static InferenceTensor Copy(InferenceTensor tensor) => tensor.Bytes is { } elements
        ? new InferenceTensor(tensor.Name, tensor.Shape, elements.Select(e => e.ToArray()).ToArray())
        : new InferenceTensor(tensor.Name, tensor.DataType, tensor.Shape, tensor.Data.ToArray());
}

/// <summary>The comparison of shadow answers with primary ones for one endpoint.</summary>
public sealed class ShadowTally
{
    private readonly Lock _lock = new();
    private long _compared;
    private long _agreed;
    private long _failed;
    private long _dropped;
    private double _absoluteDifference;
    private long _differenceCount;
    private double _primaryMs;
    private double _shadowMs;

    public void Dropped() => Interlocked.Increment(ref _dropped);

    public void Add(IReadOnlyList<InferenceTensor> primary, IReadOnlyList<InferenceTensor>? shadow, TimeSpan primaryLatency, TimeSpan shadowLatency)
    {
        lock (_lock)
        {
            _compared++;
            if (shadow is null)
            {
                _failed++;
                return;
            }

            bool agree = true;
            foreach (InferenceTensor expected in primary)
            {
                InferenceTensor? actual = shadow.FirstOrDefault(t => t.Name == expected.Name);
                double[]? a = Numbers(expected), b = actual is null ? null : Numbers(actual);
                if (a is null || b is null || a.Length != b.Length)
                {
                    agree &= actual is not null && expected.Data.Span.SequenceEqual(actual.Data.Span);
                    continue;
                }

                for (int i = 0; i < a.Length; i++)
                {
                    _absoluteDifference += Math.Abs(a[i] - b[i]);
                }

                _differenceCount += a.Length;
                agree &= expected.Shape.Length == 2 && expected.Shape[1] > 1 ? SameTopClass(a, b, (int)expected.Shape[1]) : a.SequenceEqual(b);
            }

            _agreed += agree ? 1 : 0;
            _primaryMs += primaryLatency.TotalMilliseconds;
            _shadowMs += shadowLatency.TotalMilliseconds;
        }
    }

    public Snapshot Take()
    {
        lock (_lock)
        {
            long answered = _compared - _failed;
            return new Snapshot(_compared, _agreed, _failed, Interlocked.Read(ref _dropped),
                _differenceCount == 0 ? 0 : _absoluteDifference / _differenceCount,
                answered == 0 ? 0 : _primaryMs / answered, answered == 0 ? 0 : _shadowMs / answered);
        }
    }

    private static bool SameTopClass(double[] a, double[] b, int classes)
    {
        for (int row = 0; row < a.Length / classes; row++)
        {
            Span<double> x = a.AsSpan(row * classes, classes), y = b.AsSpan(row * classes, classes);
            if (x.IndexOf(Max(x)) != y.IndexOf(Max(y)))
            {
                return false;
            }
        }

        return true;
    }

    private static double Max(Span<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double value in values)
        {
            max = Math.Max(max, value);
        }

        return max;
    }

    private static double[]? Numbers(InferenceTensor tensor) => tensor.DataType switch
    {
        DataType.Fp32 => Array.ConvertAll(tensor.AsSpan<float>().ToArray(), v => (double)v),
        DataType.Fp64 => tensor.AsSpan<double>().ToArray(),
        DataType.Int64 => Array.ConvertAll(tensor.AsSpan<long>().ToArray(), v => (double)v),
        DataType.Int32 => Array.ConvertAll(tensor.AsSpan<int>().ToArray(), v => (double)v),
        _ => null,
    };

    /// <summary>Requests compared, agreeing, shadow failures, dropped under load, mean |difference|, mean latencies in ms.</summary>
    public sealed record Snapshot(long Compared, long Agreed, long Failed, long Dropped, double MeanAbsoluteDifference,
        double PrimaryMeanMs, double ShadowMeanMs)
    {
        public double AgreementRate => Compared == 0 ? 0 : (double)Agreed / Compared;
    }
}
