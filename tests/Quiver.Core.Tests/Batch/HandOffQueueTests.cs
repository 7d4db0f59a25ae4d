using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

public sealed class HandOffQueueTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public void Items_ComeOutInTheOrderTheyWentIn()
    {
        var queue = new HandOffQueue<int>(3);
        queue.Add(1, CancellationToken.None);
        queue.Add(2, CancellationToken.None);
        queue.Add(3, CancellationToken.None);

        Assert.Equal([1, 2, 3], new[] { Take(queue), Take(queue), Take(queue) });
    }

    [Fact]
    public async Task Add_WaitsWhileFull_UntilAnItemIsTaken()
    {
        var queue = new HandOffQueue<int>(1);
        queue.Add(1, CancellationToken.None);

        Task second = Task.Factory.StartNew(() => queue.Add(2, CancellationToken.None), TaskCreationOptions.LongRunning);
        await Task.Delay(100);
        Assert.False(second.IsCompleted, "Add returned although the queue was full");

        Assert.Equal(1, Take(queue));
        await second.WaitAsync(s_timeout);
        Assert.Equal(2, Take(queue));
    }

    [Fact]
    public async Task Take_WaitsForAnItem_AddedByAnotherThread()
    {
        var queue = new HandOffQueue<string>(2);
        Task<string> taken = Task.Factory.StartNew(() => queue.Take(CancellationToken.None), TaskCreationOptions.LongRunning);
        await Task.Delay(100);
        Assert.False(taken.IsCompleted, "Take returned from an empty queue");

        queue.Add("chunk", CancellationToken.None);

        Assert.Equal("chunk", await taken.WaitAsync(s_timeout));
    }

    [Fact]
    public async Task CompleteAdding_LetsTakersDrainWhatIsLeft_ThenTryTakeIsFalse()
    {
        var queue = new HandOffQueue<int>(2);
        Task<bool> waiting = Task.Factory.StartNew(() => queue.TryTake(out _, CancellationToken.None), TaskCreationOptions.LongRunning);
        await Task.Delay(100);

        queue.CompleteAdding();

        Assert.False(await waiting.WaitAsync(s_timeout));

        var drained = new HandOffQueue<int>(2);
        drained.Add(7, CancellationToken.None);
        drained.CompleteAdding();
        Assert.True(drained.TryTake(out int last, CancellationToken.None));
        Assert.Equal(7, last);
        Assert.False(drained.TryTake(out _, CancellationToken.None));
        Assert.Throws<InvalidOperationException>(() => drained.Take(CancellationToken.None));
        Assert.Throws<InvalidOperationException>(() => drained.Add(8, CancellationToken.None));
    }

    [Fact]
    public async Task WaitingTakeAndAdd_EndWithCancellation()
    {
        var empty = new HandOffQueue<int>(1);
        var full = new HandOffQueue<int>(1);
        full.Add(1, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        Task take = Task.Factory.StartNew(() => empty.Take(cancel.Token), TaskCreationOptions.LongRunning);
        Task add = Task.Factory.StartNew(() => full.Add(2, cancel.Token), TaskCreationOptions.LongRunning);
        await Task.Delay(100);

        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => take.WaitAsync(s_timeout));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => add.WaitAsync(s_timeout));
        Assert.Equal(1, Take(full)); // the cancelled Add left the queue as it was
        Assert.Throws<OperationCanceledException>(() => full.Take(cancel.Token));
    }

    private static T Take<T>(HandOffQueue<T> queue) => queue.Take(CancellationToken.None);
}
