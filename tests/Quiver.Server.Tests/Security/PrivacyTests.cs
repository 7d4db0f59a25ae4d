using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Tests.Grpc;

namespace Quiver.Server.Tests.Security;

/// <summary>
/// Sensitive inputs and parameters through a real server: payload logging, drift, a batch job's error file, failing
/// requests over REST and gRPC, and every log line captured to a file. Afterwards no file in the data directory and no
/// log line holds a sensitive value in any encoding, while the same search finds the non-sensitive ones.
/// </summary>
public sealed class PrivacyTests : IDisposable
{
    // Distinctive values: nothing else in a run could contain them by chance.
    private const string Ssn = "SSN-QUIVER-7C41-SECRET-20261202";
    private const long Income = 918273645519;
    private const string BadIncomeText = "918273645519918273645519918273645519";
    private const string BatchIncome = "INCOME-SECRET-8675309";
    private const string CustomerRef = "CUSTREF-SECRET-5550123";

    // Non-sensitive values the search must find, proving it looks where the sensitive ones would be.
    private const long Age = 4242424242;
    private const string Campaign = "CAMPAIGN-VISIBLE-31337";
    private const string BatchAge = "AGE-VISIBLE-NOT-A-NUMBER-4711";

    private readonly string _repository = Directory.CreateTempSubdirectory("quiver-privacy-").FullName;
    private readonly string _outside = Directory.CreateTempSubdirectory("quiver-privacy-inputs-").FullName;

    public void Dispose()
    {
        Directory.Delete(_repository, recursive: true);
        Directory.Delete(_outside, recursive: true);
    }

    [Fact]
    public async Task SensitiveValues_AppearNowhereInTheDataDirectoryOrTheLog_WhileOtherValuesDo()
    {
        WritePrivateModel(_repository, """
            {"max_batch_size": 8, "sensitive_inputs": ["ssn", "income"], "sensitive_parameters": ["customer_ref"],
             "payload_logging": {"sample_rate": 1.0}, "drift": {"baseline_rows": 10, "window_rows": 10, "minimum_window_rows": 1}}
            """);
        string log = Path.Combine(_outside, "server.log");
        string data = TestServer.NewDataDirectory();
        try
        {
            await using (var server = await StartAsync(data, log))
            {
                await ExerciseAsync(server);
            }

            Assert.Empty(Find(data, log, SensitiveNeedles()));
            string[] found = Find(data, log, VisibleNeedles());
            Assert.Contains(found, f => f.Contains("age", StringComparison.Ordinal) && f.Contains("payloads", StringComparison.Ordinal));
            Assert.Contains(found, f => f.Contains("campaign", StringComparison.Ordinal) && f.Contains("payloads", StringComparison.Ordinal));
            Assert.Contains(found, f => f.Contains("batch age", StringComparison.Ordinal) && f.Contains("errors", StringComparison.Ordinal));
            Assert.Contains(found, f => f.Contains("model name", StringComparison.Ordinal) && f.EndsWith("server.log", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private async Task<TestServer> StartAsync(string data, string log)
    {
        QuiverServer server = await QuiverServer.StartAsync(new QuiverServerOptions
        {
            ModelRepository = _repository, HttpPort = 0, GrpcPort = 0, MetricsPort = 0, DataDirectory = data,
        }, logging => logging.SetMinimumLevel(LogLevel.Trace)
            .AddFilter("Microsoft", LogLevel.Trace).AddFilter("Microsoft.AspNetCore", LogLevel.Trace) // ASP.NET Core's request lines too
            .AddProvider(new FileLoggerProvider(log)));
        return TestServer.Wrap(server, data);
    }

    private async Task ExerciseAsync(TestServer server)
    {
        // Served requests over REST: payload logged, drift sampled.
        for (int i = 0; i < 3; i++)
        {
            var (status, body) = await server.PostAsync("/v2/models/private/infer", Request($"[{Income}]", $"[{Age}]"));
            Assert.True(status == 200, body?.ToJsonString());
        }

        // A failing request whose sensitive value does not fit: the message says so without the value.
        var (badStatus, bad) = await server.PostAsync("/v2/models/private/infer", Request($"[{BadIncomeText}]", $"[{Age}]"));
        Assert.Equal(400, badStatus);
        Assert.Contains("input 'income' element 0 does not fit in INT64 (the value is not shown", (string?)bad!["error"]);
        Assert.DoesNotContain(BadIncomeText, bad.ToJsonString());
        // The same mistake on a non-sensitive input still shows the value, to help the caller.
        var (_, visible) = await server.PostAsync("/v2/models/private/infer", Request($"[{Income}]", "[4242424242424242424242]"));
        Assert.Contains("4242424242424242424242", (string?)visible!["error"]);
        // A failing request of the right form but the wrong shape.
        var (shapeStatus, _) = await server.PostAsync("/v2/models/private/infer", Request($"[{Income}, {Income}]", $"[{Age}]"));
        Assert.Equal(400, shapeStatus);

        // Over gRPC: one served, one failing.
        using var grpc = new GrpcTestClient(server.Server.GrpcAddress);
        var (_, served) = await grpc.UnaryAsync("ModelInfer", GrpcRequest(1), ModelInferResponse.Parser);
        Assert.Equal(0, served.Status);
        var (_, refused) = await grpc.UnaryAsync("ModelInfer", GrpcRequest(2), ModelInferResponse.Parser);
        Assert.Equal(3, refused.Status);

        // Drift leaves the sensitive inputs out altogether.
        var (_, drift) = await server.GetAsync("/v2/admin/models/private/drift");
        string[] features = drift!["features"]!.AsArray().Select(f => (string)f!["feature"]!).ToArray();
        Assert.Contains("age[0]", features);
        Assert.DoesNotContain(features, f => f.StartsWith("income", StringComparison.Ordinal) || f.StartsWith("ssn", StringComparison.Ordinal));
        string samples = string.Join(",", Enumerable.Repeat(Income, 10));
        var (baselineStatus, baseline) = await server.PostAsync("/v2/admin/models/private/drift/baseline", $$$"""{"features":{"income[0]":[{{{samples}}}]}}""");
        Assert.Equal(400, baselineStatus);
        Assert.StartsWith("baseline feature 'income[0]' is a column of a sensitive input, which drift watching leaves out", (string?)baseline!["error"]);

        // A server-side batch job with a bad sensitive cell and a bad non-sensitive cell: the error file names both rows.
        string input = Path.Combine(_outside, "rows.csv");
        File.WriteAllLines(input, ["ssn,income,age", $"{Ssn},{Income},{Age}", $"{Ssn},{BatchIncome},{Age}", $"{Ssn},{Income},{BatchAge}"]);
        var (submitted, job) = await server.PostAsync("/v2/admin/batch/jobs", $$"""{"model":"private","input":{{JsonValue.Create(input).ToJsonString()}}}""");
        Assert.True(submitted == 201, job?.ToJsonString());
        string id = (string)job!["id"]!;
        JsonNode? done = null;
        for (var deadline = DateTime.UtcNow.AddMinutes(2); DateTime.UtcNow < deadline;)
        {
            done = (await server.GetAsync($"/v2/admin/batch/jobs/{id}")).Body;
            if ((string?)done!["state"] is "completed" or "failed")
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.True((string?)done!["state"] == "completed", done.ToJsonString());
        Assert.Equal(2, (long)done["rows_failed"]!);
        string errors = await server.Client.GetStringAsync($"/v2/admin/batch/jobs/{id}/errors");
        Assert.Contains("hmac-sha256:", errors);
    }

    private static string Request(string income, string age) => $$"""
        {"id":"privacy","parameters":{"customer_ref":"{{CustomerRef}}","campaign":"{{Campaign}}"},
         "inputs":[{"name":"ssn","datatype":"BYTES","shape":[1],"data":["{{Ssn}}"]},
                   {"name":"income","datatype":"INT64","shape":[1,1],"data":{{income}}},
                   {"name":"age","datatype":"INT64","shape":[1,1],"data":{{age}}}]}
        """;

    // A served request (rows = 1) or one whose income has two elements for a shape of one (rows = 2).
    private static ModelInferRequest GrpcRequest(int incomeElements)
    {
        var request = new ModelInferRequest { ModelName = "private" };
        request.Parameters["customer_ref"] = new InferParameter { StringParam = CustomerRef };
        var ssn = new ModelInferRequest.Types.InferInputTensor { Name = "ssn", Datatype = "BYTES", Shape = { 1 }, Contents = new InferTensorContents() };
        ssn.Contents.BytesContents.Add(ByteString.CopyFromUtf8(Ssn));
        var income = new ModelInferRequest.Types.InferInputTensor { Name = "income", Datatype = "INT64", Shape = { 1, 1 }, Contents = new InferTensorContents() };
        income.Contents.Int64Contents.AddRange(Enumerable.Repeat(Income, incomeElements));
        var age = new ModelInferRequest.Types.InferInputTensor { Name = "age", Datatype = "INT64", Shape = { 1, 1 }, Contents = new InferTensorContents() };
        age.Contents.Int64Contents.Add(Age);
        request.Inputs.AddRange([ssn, income, age]);
        return request;
    }

    private static IEnumerable<(string Name, byte[] Bytes)> SensitiveNeedles() =>
        Encodings("ssn", Encoding.UTF8.GetBytes(Ssn))
            .Concat(Encodings("income", Int64(Income)))
            .Concat(Encodings("bad income", Encoding.UTF8.GetBytes(BadIncomeText)))
            .Concat(Encodings("batch income", Encoding.UTF8.GetBytes(BatchIncome)))
            .Concat(Encodings("customer ref", Encoding.UTF8.GetBytes(CustomerRef)))
            .Append(("income as text", Encoding.UTF8.GetBytes(Income.ToString(System.Globalization.CultureInfo.InvariantCulture))));

    private static IEnumerable<(string Name, byte[] Bytes)> VisibleNeedles() =>
        Encodings("age", Int64(Age))
            .Concat(Encodings("campaign", Encoding.UTF8.GetBytes(Campaign)))
            .Concat(Encodings("batch age", Encoding.UTF8.GetBytes(BatchAge)))
            .Append(("model name", "/v2/models/private/infer"u8.ToArray()));

    /// <summary>
    /// Model "private": inputs "ssn" (BYTES [batch]), "income" and "age" (INT64 [batch, 1]), output "age_squared"; which
    /// of them are sensitive is up to <paramref name="config"/>.
    /// </summary>
    internal static void WritePrivateModel(string repository, string config)
    {
        string dir = Path.Combine(repository, "private", "1");
        Directory.CreateDirectory(dir);
        new ModelBuilder("private")
            .Input("ssn", TensorElementType.String, Dim.Named("batch"))
            .Input("income", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
            .Input("age", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
            .Node("Mul", ["age", "age"], ["age_squared"])
            .Output("age_squared", TensorElementType.Int64, Dim.Named("batch"), Dim.Of(1))
            .Save(Path.Combine(dir, "model.onnx"));
        File.WriteAllText(Path.Combine(repository, "private", "config.json"), config);
    }

    private static IEnumerable<(string Name, byte[] Bytes)> Encodings(string name, byte[] raw) => ClearTextSearch.Encodings(name, raw);

    private static byte[] Int64(long value)
    {
        byte[] bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    // "needle in file" for every needle found in any file under the data directory, or in the log.
    private static string[] Find(string dataDirectory, string log, IEnumerable<(string Name, byte[] Bytes)> needles)
    {
        string[] files = [.. Directory.EnumerateFiles(dataDirectory, "*", SearchOption.AllDirectories), log];
        Assert.True(File.Exists(log) && new FileInfo(log).Length > 0, "the server wrote no log lines");
        Assert.Contains(files, f => f.Contains("payloads", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith(".errors.jsonl", StringComparison.Ordinal) || f.Contains("errors", StringComparison.Ordinal));
        return ClearTextSearch.Find(files, needles);
    }
}
