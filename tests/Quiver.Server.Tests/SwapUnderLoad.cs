using System.Collections.Concurrent;
using System.Diagnostics;

namespace Quiver.Server.Tests;

/// <summary>
/// Eight clients sending one-value requests to a model that adds its version number to the input, while a swap from
/// version 1 to version 2 happens: at least 1,000 answers before it and 2,000 in all. Checks that no request failed,
/// every answer matches the version that gave it, both versions answered, and only version 2 once the swap returned.
/// </summary>
internal static class SwapUnderLoad
{
    public static async Task RunAsync(TestServer server, string model, Func<Task> swap)
    {
        var answers = new ConcurrentBag<(int Status, string? Version, float Input, float Output, long Started)>();
        using var stop = new CancellationTokenSource();
        async Task Client(int seed)
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                float x = random.Next(1000);
                long started = Stopwatch.GetTimestamp();
                var (status, body) = await server.PostAsync($"/v2/models/{model}/infer",
                    $$"""{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[{{x}}]}]}""");
                answers.Add((status, (string?)body?["model_version"], x, status == 200 ? (float)body!["outputs"]![0]!["data"]![0]! : float.NaN, started));
            }
        }

        Task[] clients = Enumerable.Range(0, 8).Select(Client).ToArray();
        while (answers.Count < 1000)
        {
            await Task.Delay(20);
        }

        await swap();
        long swapped = Stopwatch.GetTimestamp();
        int atSwap = answers.Count;
        while (answers.Count < Math.Max(2000, atSwap + 500))
        {
            await Task.Delay(20);
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);

        Assert.True(answers.Count >= 2000);
        Assert.All(answers, a => Assert.Equal(200, a.Status));
        Assert.All(answers, a => Assert.Equal(a.Input + (a.Version == "2" ? 2 : 1), a.Output));
        Assert.Contains(answers, a => a.Version == "1");
        Assert.Contains(answers, a => a.Version == "2");
        Assert.DoesNotContain(answers, a => a.Version == "1" && a.Started > swapped); // once switched, only v2 answers
    }
}
