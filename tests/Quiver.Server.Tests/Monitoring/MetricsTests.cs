using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>/metrics on the metrics port, read with a strict parser of the text format.</summary>
public sealed class MetricsTests(ModelRepositoryFixture fixture) : IClassFixture<ModelRepositoryFixture>
{
    private readonly TestServer _server = fixture.Server;

    private async Task<PrometheusText> ScrapeAsync(Uri? address = null)
    {
        using var client = new HttpClient { BaseAddress = address ?? _server.Server.MetricsAddress };
        using HttpResponseMessage response = await client.GetAsync("/metrics");
        Assert.Equal(200, (int)response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    private static readonly (string, string)[] s_mlp1 = [("model", "mlp"), ("version", "1")];

    [Fact]
    public async Task Scrape_HasTritonsCountersAndQuiversOwn_InAStrictlyValidFormat()
    {
        PrometheusText metrics = await ScrapeAsync();

        foreach (string counter in new[] { "nv_inference_request_success", "nv_inference_request_failure", "nv_inference_count",
            "nv_inference_exec_count", "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
            "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us" })
        {
            Assert.Equal("counter", metrics.TypeOf(counter));
        }

        Assert.Equal("histogram", metrics.TypeOf("quiver_request_duration_seconds"));
        Assert.Equal("gauge", metrics.TypeOf("quiver_queue_depth"));
        Assert.Equal("gauge", metrics.TypeOf("process_resident_memory_bytes"));
        Assert.True(metrics.Value("process_resident_memory_bytes") > 10_000_000);
        Assert.Equal(1, metrics.Value("quiver_model_ready", s_mlp1));
        Assert.Equal(0, metrics.Value("quiver_model_ready", ("model", "corrupt"), ("version", "1")));
        Assert.Equal("gauge", metrics.TypeOf("quiver_model_execution_provider"));
        Assert.Equal(1, metrics.Value("quiver_model_execution_provider", [.. s_mlp1, ("provider", "CPUExecutionProvider")]));
    }

    [Fact]
    public async Task Counters_MoveAsRequestsAreMade()
    {
        PrometheusText before = await ScrapeAsync();

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await _server.PostAsync("/v2/models/mlp/infer",
                """{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}""")).Status);
        }

        Assert.Equal(400, (await _server.PostAsync("/v2/models/mlp/infer",
            """{"inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}""")).Status);
        PrometheusText after = await ScrapeAsync();

        Assert.Equal(3, after.Value("nv_inference_request_success", s_mlp1) - before.ValueOrZero("nv_inference_request_success", s_mlp1));
        Assert.Equal(1, after.Value("nv_inference_request_failure", s_mlp1) - before.ValueOrZero("nv_inference_request_failure", s_mlp1));
        Assert.Equal(6, after.Value("nv_inference_count", s_mlp1) - before.ValueOrZero("nv_inference_count", s_mlp1));
        Assert.True(after.Value("nv_inference_compute_infer_duration_us", s_mlp1) > before.ValueOrZero("nv_inference_compute_infer_duration_us", s_mlp1));
        (string, string)[] success = [.. s_mlp1, ("outcome", "success")];
        Assert.Equal(3, after.Value("quiver_request_duration_seconds_count", success) - before.ValueOrZero("quiver_request_duration_seconds_count", success));
        Assert.Equal(1, after.Value("quiver_rejected_requests_total", ("model", "mlp"), ("reason", "invalid_argument"))
            - before.ValueOrZero("quiver_rejected_requests_total", ("model", "mlp"), ("reason", "invalid_argument")));
        Assert.True(after.Value("quiver_batch_executions_total", [.. s_mlp1, ("batch_size", "2")]) >= 3);
    }

    [Fact]
    public async Task ModelNames_AreEscapedInLabelValues()
    {
        const string odd = "odd\"name";
        string dir = Path.Combine(fixture.Root, odd, "1");
        Directory.CreateDirectory(dir);
        SampleModels.Identity(TensorElementType.Float, "batch", 3).Save(Path.Combine(dir, "model.onnx"));
        // The registry refuses the name, so the folder is listed as failed; its series still carries the name, escaped.
        Assert.Equal(400, (await _server.PostAsync("/v2/repository/models/" + Uri.EscapeDataString(odd) + "/load", "")).Status);

        PrometheusText metrics = await ScrapeAsync();

        Assert.Equal(0, metrics.Value("quiver_model_ready", ("model", odd), ("version", "1")));
    }

    [Fact]
    public async Task Metrics_AreAlsoOnTheHttpPort()
    {
        PrometheusText metrics = await ScrapeAsync(_server.Server.HttpAddress);

        Assert.Equal("counter", metrics.TypeOf("nv_inference_count"));
    }
}
