using Quiver.Core.Routing;
using Quiver.Core.Tensors;

namespace Quiver.Core.Tests.Routing;

/// <summary>
/// The shadow mirror on its own, with a fake shadow engine (a delegate standing in for inference) because these tests
/// must hold shadows in flight, fail them and throw on demand, which a real model cannot do when told.
/// </summary>
public sealed class ShadowTrafficTests
{
    private static readonly ShadowSpec EveryRequest = new("candidate", "2", 100);

    private static InferenceRequest Request() => new()
    {
        ModelName = "endpoint",
        Inputs = [new InferenceTensor("input", DataType.Fp32, [1, 1], BitConverter.GetBytes(1f))],
    };

    private static InferenceResponse Answer(float value) => new()
    {
        ModelName = "candidate", ModelVersion = "2",
        Outputs = [new InferenceTensor("output", DataType.Fp32, [1, 1], BitConverter.GetBytes(value))],
    };

    private static async Task<ShadowTally.Snapshot> FiguresOnceSettledAsync(ShadowTraffic shadows, long expected)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            ShadowTally.Snapshot figures = shadows.Figures("endpoint");
            if (figures.Compared + figures.Dropped >= expected)
            {
                return figures;
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"shadow figures after 30 s: {figures}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task FullShadowQueue_DropsTheMirror_AndCountsIt_WithoutWaitingForTheShadow()
    {
        var shadows = new ShadowTraffic();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int started = 0;
        async ValueTask<InferResult> HeldShadowAsync(InferenceRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref started);
            await release.Task;
            return new InferResult(Answer(1), null);
        }

        const int Requests = ShadowTraffic.MaxInFlight + 6;
        for (int i = 0; i < Requests; i++)
        {
            // Returns at once although every shadow is still held: the primary never waits for it.
            shadows.MaybeMirror("endpoint", EveryRequest, Request(), Answer(1), TimeSpan.FromMilliseconds(2), HeldShadowAsync);
        }

        ShadowTally.Snapshot held = shadows.Figures("endpoint");
        Assert.Equal((0, 6), (held.Compared, held.Dropped)); // the queue holds MaxInFlight; the rest gave way
        release.SetResult();
        ShadowTally.Snapshot settled = await FiguresOnceSettledAsync(shadows, Requests);
        Assert.Equal((ShadowTraffic.MaxInFlight, 6L, ShadowTraffic.MaxInFlight), (settled.Compared, settled.Dropped, Volatile.Read(ref started)));
        Assert.Equal(1, settled.AgreementRate);

        // Room again once the held shadows finished: the next mirror runs.
        shadows.MaybeMirror("endpoint", EveryRequest, Request(), Answer(1), TimeSpan.FromMilliseconds(2), HeldShadowAsync);
        Assert.Equal(ShadowTraffic.MaxInFlight + 1, (await FiguresOnceSettledAsync(shadows, Requests + 1)).Compared);
    }

    [Fact]
    public async Task ShadowThatFailsOrThrows_IsCountedAsFailed_AndNeverReachesThePrimary()
    {
        var shadows = new ShadowTraffic();
        static ValueTask<InferResult> FailingShadowAsync(InferenceRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new InferResult(null, new InferenceError(ErrorKind.Unavailable, "version 2 of 'candidate' is not loaded")));
        static ValueTask<InferResult> ThrowingShadowAsync(InferenceRequest request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("the shadow's engine broke");

        shadows.MaybeMirror("endpoint", EveryRequest, Request(), Answer(1), TimeSpan.FromMilliseconds(2), FailingShadowAsync);
        await FiguresOnceSettledAsync(shadows, 1); // one at a time: never more in flight than the queue holds
        shadows.MaybeMirror("endpoint", EveryRequest, Request(), Answer(1), TimeSpan.FromMilliseconds(2), ThrowingShadowAsync);

        ShadowTally.Snapshot figures = await FiguresOnceSettledAsync(shadows, 2);
        Assert.Equal((2L, 2L, 0L, 0L), (figures.Compared, figures.Failed, figures.Agreed, figures.Dropped));
    }

    [Fact]
    public async Task ShadowLatency_IsMeasured_AndThePrimarysIsKeptBesideIt()
    {
        var shadows = new ShadowTraffic();
        static async ValueTask<InferResult> SlowShadowAsync(InferenceRequest request, CancellationToken cancellationToken)
        {
            await Task.Delay(50, cancellationToken); // a lower bound only: a slow box makes it longer, never shorter
            return new InferResult(Answer(3), null);
        }

        shadows.MaybeMirror("endpoint", EveryRequest, Request(), Answer(1), TimeSpan.FromMilliseconds(4), SlowShadowAsync);

        ShadowTally.Snapshot figures = await FiguresOnceSettledAsync(shadows, 1);
        Assert.Equal(4, figures.PrimaryMeanMs, 1e-9);
        Assert.True(figures.ShadowMeanMs >= 45, $"shadow mean {figures.ShadowMeanMs} ms for a 50 ms shadow");
        Assert.Equal(2, figures.MeanAbsoluteDifference, 1e-9); // 3 against 1
        Assert.Equal(0, figures.AgreementRate);
    }
}
