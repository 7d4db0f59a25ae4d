using System.Text.Json.Nodes;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Tests.Models;

/// <summary><c>quiver models push</c> against the admin API stand-in: what is sent, and what is printed.</summary>
public sealed class ModelsPushTests : IDisposable
{
    private readonly TempFiles _files = new();

    [Fact]
    public async Task Push_StreamsTheFileAsTheBody_WithEveryOptionInTheQuery()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 300_000);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--description", "more layers & more data",
            "--alias", "staging", "--tag", "a", "--tag", "b,c", "--source-uri", "s3://bucket/iris/4.onnx?v=1", "--training-run", "run-99", "--force");

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v2/admin/models/iris/versions", request.Path);
        Assert.Equal(File.ReadAllBytes(file), request.Body);
        Assert.Equal("application/octet-stream", request.Header("Content-Type"));
        Assert.Equal("300000", request.Header("Content-Length"));
        Assert.Null(request.Header("Transfer-Encoding"));
        Assert.Equal(new Dictionary<string, string>
        {
            ["description"] = "more layers & more data",
            ["alias"] = "staging",
            ["tags"] = "a,b,c",
            ["source_uri"] = "s3://bucket/iris/4.onnx?v=1",
            ["training_run_id"] = "run-99",
            ["force"] = "true",
            ["creator"] = CliActor.Current,
        }, request.Query);
        Assert.Contains($"pushed {file} as iris version 4 (sha256 {request.BodySha256[..12]}, 293.0 KiB)", run.Output);
        Assert.Contains("iris: staging → 4", run.Output);
        Assert.Equal("", run.Error);
    }

    [Fact]
    public async Task Push_NoOptions_SendsOnlyTheCreator()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "new_model", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal("/v2/admin/models/new_model/versions", request.Path);
        Assert.Equal(["creator"], request.Query.Keys);
        Assert.Contains("as new_model version 1 ", run.Output);
        Assert.DoesNotContain("→", run.Output);
    }

    [Fact]
    public async Task Push_ApiKey_IsSentAsABearerToken_AndNoKeyMeansNoAuthorizationHeader()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 100);

        CliRun withKey = await ModelsCli.ModelsAsync(server, "push", "keyed", file, "--api-key", "qk_abc_secret");
        CliRun list = await ModelsCli.ModelsAsync(server, "list");

        Assert.True(withKey.ExitCode == 0, withKey.ToString());
        Assert.Equal("Bearer qk_abc_secret", server.Requests[0].Header("Authorization"));
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Null(server.Requests[1].Header("Authorization"));
    }

    [Fact]
    public async Task Push_Config_SendsItsJsonCompactAndUrlEncoded()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);
        string config = _files.Write("config.json", """
            {
              // warm-up and batching
              "max_batch_size": 8,
              "dynamic_batching": { "max_queue_delay_microseconds": 100 },
              "name": "a&b=c % é",
            }
            """);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--config", config);

        Assert.True(run.ExitCode == 0, run.ToString());
        RecordedRequest request = server.SingleRequest;
        Assert.Equal("""{"max_batch_size":8,"dynamic_batching":{"max_queue_delay_microseconds":100},"name":"a&b=c % é"}""", request.Query["config"]);
        Assert.Contains("config=%7B%22max_batch_size%22%3A8", request.RawTarget);
    }

    [Theory]
    [InlineData("not json at all", "is not valid JSON")]
    [InlineData("[1, 2]", "must hold a JSON object")]
    public async Task Push_ConfigNotAJsonObject_Exits2AndSendsNothing(string text, string expected)
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);
        string config = _files.Write("config.json", text);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--config", config);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"error: --config '{config}' {expected}", run.Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Push_MissingConfigFile_Exits2AndSendsNothing()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--config", "no/such/config.json");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error: --config 'no/such/config.json' does not exist.", run.Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Push_MissingFile_Exits2WithAClearMessageAndSendsNothing()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", "no/such/model.onnx", "--alias", "staging");

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Equal("error: FILE 'no/such/model.onnx' does not exist.\nSee 'quiver models push --help'.\n", run.Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Push_Directory_Exits2AndSendsNothing()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", _files.Directory);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("is a directory", run.Error);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Push_SameArtifactAgain_SaysWhichVersionHoldsIt()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Write("model.onnx", AdminApiStandIn.IrisV2Bytes);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.StartsWith("iris version 2 already holds this artifact and config", run.Output);
        Assert.DoesNotContain("pushed", run.Output);
    }

    [Fact]
    public async Task Push_SameArtifactUnderAnotherModel_SaysNoSecondCopy()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Write("model.onnx", AdminApiStandIn.IrisV2Bytes);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris_copy", file);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("as iris_copy version 1 ", run.Output);
        Assert.Contains("already stored (same sha256): no second copy", run.Output);
    }

    [Fact]
    public async Task Push_SignatureBreaksTheAlias_Exits1WithTheServersMessage()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);
        const string message = "the signature breaks clients of alias 'production': input x: shape [-1,4] -> [-1,5]; push with --force to accept";
        server.RespondOnceWithError(409, message);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Output);
        Assert.Equal($"error: {message}\n", run.Error);
        Assert.Equal(1_000, server.SingleRequest.BodyLength);
    }

    [Fact]
    public async Task Push_EmptyFile_Exits1WithTheServersRefusal()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Write("empty.onnx", []);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error: the artifact is empty: expected an ONNX model\n", run.Error);
        Assert.Equal("0", server.SingleRequest.Header("Content-Length"));
    }

    [Fact]
    public async Task Push_RefusedBeforeTheUploadEnds_Exits1WithTheServersMessage()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        server.MaxBodyBytes = 1024 * 1024;
        string file = Path.Combine(_files.Directory, "big.onnx");
        using (FileStream stream = File.Create(file))
        {
            stream.SetLength(64L * 1024 * 1024);
        }

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error: the body is larger than the limit of 1048576 bytes\n", run.Error);
    }

    [Fact]
    public async Task Push_ForcedWithWarnings_PrintsWarningsOnStderrAndTheSignatureChanges()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);
        server.RespondOnce(201, """
            {"model":"iris","version":4,"sha256":"abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789","size_bytes":1000,
             "already_stored":false,"existing":false,"alias":null,
             "warnings":["no warm-up inputs in the config; generated from the signature"],
             "signature_changes":["input x: shape [-1,4] -> [-1,5]"]}
            """);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--force");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("warning: no warm-up inputs in the config; generated from the signature\n", run.Error);
        Assert.Contains("as iris version 4 (sha256 abcdef012345, 1000 B)", run.Output);
        Assert.Contains("signature changes:\n  input x: shape [-1,4] -> [-1,5]\n", run.Output);
    }

    [Fact]
    public async Task Push_Json_PrintsTheServersAnswerAsIs()
    {
        await using AdminApiStandIn server = await AdminApiStandIn.StartAsync();
        string file = _files.Random("model.onnx", 1_000);
        const string answer = """{"model":"iris","version":4,"sha256":"ab","size_bytes":1000,"already_stored":false,"existing":false,"alias":"staging","warnings":["w"],"signature_changes":[],"future_field":{"x":1}}""";
        server.RespondOnce(201, answer);

        CliRun run = await ModelsCli.ModelsAsync(server, "push", "iris", file, "--alias", "staging", "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(answer + "\n", run.Output);
        Assert.Equal("", run.Error);
    }

    public void Dispose() => _files.Dispose();
}
