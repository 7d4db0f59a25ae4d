using System.Globalization;
using System.Text;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Dashboard;

/// <summary>
/// A real server with the kinds of models a dashboard has to show: two versions with aliases and dynamic batching
/// (iris), a cached model (churn), a drift-watched one (sensors), one that failed to load (broken), an A/B test with a
/// shadow (endpoint iris-ab) and a canary rollout (fraud, version 1 to 2).
/// </summary>
public sealed class DashboardServerFixture : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-dashboard-").FullName;

    public TestServer Server { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var w = ModelRepositoryFixture.W1;
        Write("iris", 1, SampleModels.Mlp(w, ModelRepositoryFixture.B1, ModelRepositoryFixture.W2, ModelRepositoryFixture.B2));
        Write("iris", 2, SampleModels.Mlp(w, ModelRepositoryFixture.B1, ModelRepositoryFixture.W2, ModelRepositoryFixture.B2, softmax: false));
        Config("iris", """{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 2000}}""");

        Write("churn", 1, SampleModels.Mlp(w, ModelRepositoryFixture.B1, ModelRepositoryFixture.W2, ModelRepositoryFixture.B2));
        Config("churn", """{"max_batch_size": 8, "response_cache": true}""");

        Write("sensors", 1, SampleModels.Identity(TensorElementType.Float, "batch", 3));
        Config("sensors", """{"max_batch_size": 64, "drift": {"baseline_rows": 200, "window_rows": 200, "minimum_window_rows": 50}}""");

        Write("fraud", 1, SampleModels.Mlp(w, ModelRepositoryFixture.B1, ModelRepositoryFixture.W2, ModelRepositoryFixture.B2));
        Write("fraud", 2, SampleModels.Mlp(w, ModelRepositoryFixture.B1, ModelRepositoryFixture.W2, ModelRepositoryFixture.B2));
        Config("fraud", """{"max_batch_size": 8}""");

        Directory.CreateDirectory(Path.Combine(_root, "broken", "1"));
        File.WriteAllBytes(Path.Combine(_root, "broken", "1", "model.onnx"), "this is not an ONNX model"u8.ToArray());

        Server = await TestServer.StartAsync(_root);
        Assert.Equal(200, (await Server.PostAsync("/v2/admin/models/iris/promote", """{"version": 2}""")).Status);
        using var staging = new StringContent("""{"version": 1}""", Encoding.UTF8, "application/json");
        Assert.True((await Server.Client.PutAsync("/v2/admin/models/iris/aliases/staging", staging)).IsSuccessStatusCode);

        // An A/B test between iris's versions with a shadow, and a canary of fraud's version 2 that stays at its first step
        // (an hour per step) whatever the machine's speed.
        using var endpoint = new StringContent("""
            {"variants": [{"name": "mlp", "model": "iris", "version": "1", "weight": 50},
                          {"name": "logistic", "model": "iris", "version": "2", "weight": 50}],
             "experiment": {"metric": "binary", "minimum_samples": 500},
             "shadow": {"model": "churn", "version": "1", "percent": 25}}
            """, Encoding.UTF8, "application/json");
        Assert.True((await Server.Client.PutAsync("/v2/admin/endpoints/iris-ab", endpoint)).IsSuccessStatusCode);
        Assert.Equal(200, (await Server.PostAsync("/v2/admin/models/fraud/promote", """{"version": 1}""")).Status);
        Assert.Equal(201, (await Server.PostAsync("/v2/admin/rollouts",
            """{"model": "fraud", "to": 2, "steps": [10, 50, 100], "interval_seconds": 3600, "max_error_rate": 0.01, "max_p99_latency_ratio": 2, "minimum_requests": 50}""")).Status);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>An infer body of <paramref name="rows"/> rows of <paramref name="columns"/> numbers from <paramref name="next"/>.</summary>
    public static string Rows(int rows, int columns, Func<double> next)
    {
        var data = new string[rows * columns];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = next().ToString("R", CultureInfo.InvariantCulture);
        }

        return $$"""{"inputs":[{"name":"input","shape":[{{rows}},{{columns}}],"datatype":"FP32","data":[{{string.Join(",", data)}}]}]}""";
    }

    private void Write(string model, int version, ModelBuilder onnx)
    {
        string dir = Path.Combine(_root, model, version.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        onnx.Save(Path.Combine(dir, "model.onnx"));
    }

    private void Config(string model, string json) => File.WriteAllText(Path.Combine(_root, model, "config.json"), json);
}
