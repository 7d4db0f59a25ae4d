using System.Text.Json.Nodes;
using Quiver.Core.Monitoring.Payloads;
using Quiver.Core.Security;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Monitoring;

/// <summary>Payload logging through a real server: sampled JSON lines per model, sensitive inputs pseudonymized, rotation by size.</summary>
public sealed class PayloadLoggingTests : IDisposable
{
    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-payloads-").FullName;

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private void AddModel(string name, string config)
    {
        string dir = Path.Combine(_repository, name, "1");
        Directory.CreateDirectory(dir);
        SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 3).Save(Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(_repository, name, "config.json"), config);
    }

    private static string Request(float a, float b, float c, string id) =>
        $$"""{"id":"{{id}}","inputs":[{"name":"input","shape":[1,3],"datatype":"FP32","data":[{{a}},{{b}},{{c}}]}]}""";

    private static async Task<JsonNode[]> WaitForLinesAsync(string file, int count)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            string[] lines = File.Exists(file) ? await ReadSharedAsync(file) : [];
            if (lines.Length >= count)
            {
                return lines.Select(l => JsonNode.Parse(l)!).ToArray();
            }

            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"{file} has {lines.Length} of {count} lines after 30 s");
            await Task.Delay(50);
        }
    }

    private static async Task<string[]> ReadSharedAsync(string file)
    {
        using var reader = new StreamReader(new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task LoggedModel_WritesOneLinePerRequest_WithSensitiveInputsAsStablePseudonyms()
    {
        AddModel("logged", """{"max_batch_size": 8, "payload_logging": {"sensitive_inputs": ["input"]}}""");
        AddModel("quiet", """{"max_batch_size": 8}""");
        await using TestServer server = await TestServer.StartAsync(_repository);

        Assert.Equal(200, (await server.PostAsync("/v2/models/logged/infer", Request(1.5f, 2.5f, 3.5f, "r1"))).Status);
        Assert.Equal(200, (await server.PostAsync("/v2/models/logged/infer", Request(1.5f, 2.5f, 3.5f, "r2"))).Status);
        Assert.Equal(200, (await server.PostAsync("/v2/models/quiet/infer", Request(1, 2, 3, "q1"))).Status);

        string file = Path.Combine(server.DataDirectory, "payloads", "logged", PayloadLog.CurrentFileName);
        JsonNode[] lines = await WaitForLinesAsync(file, 2);
        Assert.Equal(["r1", "r2"], lines.Select(l => (string?)l["id"]).Order());
        JsonNode input = lines[0]["inputs"]![0]!;
        Assert.Equal("input", (string?)input["name"]);
        Assert.Null(input["data_base64"]);
        Assert.StartsWith("hmac-sha256:", (string?)input["pseudonym"]);
        Assert.Equal((string?)input["pseudonym"], (string?)lines[1]["inputs"]![0]!["pseudonym"]); // same value, same pseudonym

        // The raw input bytes appear nowhere in the log; the output is logged in full (base64 of its floats).
        byte[] raw = System.Runtime.InteropServices.MemoryMarshal.AsBytes<float>([1.5f, 2.5f, 3.5f]).ToArray();
        Assert.DoesNotContain(Convert.ToBase64String(raw), File.ReadAllText(file));
        float[] output = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(
            Convert.FromBase64String((string)lines[0]["outputs"]![0]!["data_base64"]!)).ToArray();
        Assert.Equal([2.5f, 3.5f, 4.5f], output);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "payloads", "quiet")));
    }

    [Fact]
    public async Task LargePayloads_AreTruncated_AndFilesRotateBySize()
    {
        AddModel("small", """{"max_batch_size": 8, "payload_logging": {"max_payload_bytes": 16}}""");
        await using TestServer server = await TestServer.StartAsync(_repository, o => o with { PayloadLogMaxFileBytes = 600 });

        for (int i = 0; i < 12; i++)
        {
            Assert.Equal(200, (await server.PostAsync("/v2/models/small/infer", Request(i, i, i, $"r{i}"))).Status);
        }

        string folder = Path.Combine(server.DataDirectory, "payloads", "small");
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        while (Directory.GetFiles(folder, "payloads.*.jsonl").Length == 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "no rotated payload file after 30 s");
            await Task.Delay(50);
        }

        string rotated = Directory.GetFiles(folder, "payloads.*.jsonl").Order().First();
        JsonNode line = JsonNode.Parse((await ReadSharedAsync(rotated))[0])!;
        Assert.True((bool)line["truncated"]!); // 12 input + 12 output bytes > 16
        Assert.Null(line["inputs"]![0]!["data_base64"]);
        Assert.Equal("[1,3]", line["inputs"]![0]!["shape"]!.ToJsonString());
        Assert.True(Directory.GetFiles(folder, "payloads.*.jsonl").Length <= 5);
    }

    [Fact]
    public async Task BadPayloadLoggingConfig_FailsTheModelNamingTheSetting()
    {
        AddModel("wrong", """{"payload_logging": {"sample_rate": 2}}""");
        await using TestServer server = await TestServer.StartAsync(_repository);

        var (status, body) = await server.GetAsync("/v2/models/wrong/versions/1/ready");

        Assert.NotEqual(200, status);
        Assert.Contains("payload_logging.sample_rate", (string?)body!["error"]);
    }
}
