using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Quiver.Core.Lifecycle;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Server.Tests.Admin;

/// <summary>
/// Versions changing under a real server: a push under load, encryption at rest with key rotation, a wrong key,
/// a corrupted artifact, a new repository folder picked up by the scan.
/// </summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-lifecycle-").FullName;

    private string Repository => Path.Combine(_folder, "models");

    public LifecycleTests() => Directory.CreateDirectory(Repository);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Push_UnderLoad_NoRequestFails_AndAnswersMoveFromV1ToV2()
    {
        await using TestServer server = await TestServer.StartAsync(Repository);
        Assert.Equal(201, (await AdminApiTests.PushAsync(server, "swap", AdminApiTests.Adder(1))).Status);

        await SwapUnderLoad.RunAsync(server, "swap",
            async () => Assert.Equal(201, (await AdminApiTests.PushAsync(server, "swap", AdminApiTests.Adder(2))).Status));
    }

    [Fact]
    public async Task Encryption_LeavesNoPlaintextOnDisk_AndRotationKeepsEverythingLoadable()
    {
        string keyFile = Path.Combine(_folder, "master.key");
        MasterKey.Generate().Save(keyFile);
        string marker = "quiver-plaintext-marker-" + Guid.NewGuid().ToString("N");
        byte[] model = SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 1).Metadata("marker", marker).ToBytes();
        string data = TestServer.NewDataDirectory();
        try
        {
            await using (TestServer server = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile }))
            {
                var (status, pushed) = await AdminApiTests.PushAsync(server, "secret", model);
                Assert.Equal(201, status);
                Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "secret", 1));
                Assert.True((bool)(await server.GetAsync("/v2/admin/models/secret/versions/1")).Body!["encrypted"]!);
                AssertNowhereUnder(data, Encoding.UTF8.GetBytes(marker));

                // Rotate while serving, as `quiver keys rotate` does: re-wrap, then replace the key file.
                MasterKey newKey = MasterKey.Generate();
                await using (IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(data, ModelRegistry.DefaultFileName)))
                {
                    Assert.Equal(1, await MasterKeyRotation.RotateAsync(registry, MasterKey.FromFile(keyFile), newKey, default));
                }

                newKey.Save(keyFile);
                Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "secret", 1));

                // Loading again reads the artifact under the re-wrapped key; a push after rotation uses the new key.
                Assert.Equal(200, (await server.PostAsync("/v2/repository/models/secret/load", "")).Status);
                Assert.Equal(201, (await AdminApiTests.PushAsync(server, "secret", AdminApiTests.Adder(2))).Status);
                Assert.Equal(3f, await AdminApiTests.InferOneAsync(server, "secret", 1));
                Assert.Equal(newKey.KeyId, (await ReadVersionAsync(data, "secret", 2)).KeyId);
            }

            // A fresh server with only the new key loads every version.
            await using (TestServer restarted = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile }))
            {
                Assert.Equal(2f, await AdminApiTests.InferOneAsync(restarted, "secret", 1, "1"));
                Assert.Equal(3f, await AdminApiTests.InferOneAsync(restarted, "secret", 1, "2"));
            }

            AssertNowhereUnder(data, Encoding.UTF8.GetBytes(marker));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Rotation_BetweenRewrapAndKeyFileReplace_ReloadsPushesAndStartsKeepWorking()
    {
        string keyFile = Path.Combine(_folder, "master.key");
        MasterKey oldKey = MasterKey.Generate();
        oldKey.Save(keyFile);
        string data = TestServer.NewDataDirectory();
        try
        {
            await using TestServer server = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile });
            Assert.Equal(201, (await AdminApiTests.PushAsync(server, "secret", AdminApiTests.Adder(1))).Status);

            // Step one of `quiver keys rotate`: the new key saved as <key-file>.new, then every data key re-wrapped under it.
            MasterKey newKey = MasterKey.Generate();
            newKey.Save(MasterKey.PendingPathFor(keyFile));
            Assert.Equal(1, await RotateAsync(data, oldKey, newKey));

            // The key file still holds the old key. A reload, a push and a server starting now all load every version.
            var (reloaded, error) = await server.PostAsync("/v2/repository/models/secret/load", "");
            Assert.True(reloaded == 200, $"reload during the rotation: HTTP {reloaded} {error?.ToJsonString()}");
            Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "secret", 1));
            Assert.Equal(201, (await AdminApiTests.PushAsync(server, "secret", AdminApiTests.Adder(2))).Status);
            Assert.Equal(3f, await AdminApiTests.InferOneAsync(server, "secret", 1, "2"));
            Assert.Equal(oldKey.KeyId, (await ReadVersionAsync(data, "secret", 2)).KeyId);
            await using (TestServer starting = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile }))
            {
                Assert.Equal(2f, await AdminApiTests.InferOneAsync(starting, "secret", 1, "1"));
                Assert.Equal(3f, await AdminApiTests.InferOneAsync(starting, "secret", 1, "2"));
            }

            // Step two: the key file replaced, the version pushed meanwhile swept over, the pending key removed.
            newKey.Save(keyFile);
            Assert.Equal(1, await RotateAsync(data, oldKey, newKey));
            File.Delete(MasterKey.PendingPathFor(keyFile));
            Assert.Equal(200, (await server.PostAsync("/v2/repository/models/secret/load", "")).Status);
            Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "secret", 1, "1"));
            Assert.Equal(3f, await AdminApiTests.InferOneAsync(server, "secret", 1, "2"));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Start_RemovesUploadsACrashLeftBehind_AndSparesOnesStillBeingWritten()
    {
        string data = TestServer.NewDataDirectory();
        string uploads = Path.Combine(data, "artifacts", ArtifactStore.TemporaryFolderName);
        Directory.CreateDirectory(uploads);
        string crashed = Path.Combine(uploads, "crashed.part");
        File.WriteAllBytes(crashed, AdminApiTests.Adder(1)[..16]);
        File.SetLastWriteTimeUtc(crashed, DateTime.UtcNow.AddDays(-1));
        string writing = Path.Combine(uploads, "writing.part");
        File.WriteAllBytes(writing, AdminApiTests.Adder(1)[..16]);

        await using TestServer server = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data });

        Assert.False(File.Exists(crashed), "the upload a crash left behind is still there");
        Assert.True(File.Exists(writing), "an upload written just now was removed");
        Assert.Equal(201, (await AdminApiTests.PushAsync(server, "after-crash", AdminApiTests.Adder(1))).Status);
    }

    [Fact]
    public async Task Push_AfterACrashBetweenStoringAndRegistering_ReplacesTheUnrecordedArtifactAndServesIt()
    {
        string keyFile = Path.Combine(_folder, "master.key");
        MasterKey.Generate().Save(keyFile);
        string data = TestServer.NewDataDirectory();
        byte[] model = AdminApiTests.Adder(4);
        try
        {
            // What a push killed between storing and registering leaves: the encrypted file, its data key lost with the process.
            StoredArtifact orphan = await new ArtifactStore(Path.Combine(data, "artifacts"), MasterKey.FromFile(keyFile)).PutAsync(new MemoryStream(model));
            string file = Path.Combine(data, "artifacts", orphan.Sha256[..2], orphan.Sha256);
            byte[] orphaned = File.ReadAllBytes(file);

            await using (TestServer server = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile }))
            {
                var (status, body) = await AdminApiTests.PushAsync(server, "revived", model);
                Assert.True(status == 201, $"push over the unrecorded artifact: HTTP {status} {body?.ToJsonString()}");
                Assert.Equal(5f, await AdminApiTests.InferOneAsync(server, "revived", 1));
                byte[] replaced = File.ReadAllBytes(file);
                Assert.NotEqual(orphaned, replaced);

                // Recorded now: the same upload is deduplicated against it, not stored again.
                Assert.Equal(201, (await AdminApiTests.PushAsync(server, "revived-twin", model)).Status);
                Assert.Equal(replaced, File.ReadAllBytes(file));
                Assert.Equal(5f, await AdminApiTests.InferOneAsync(server, "revived-twin", 1));
            }

            await using TestServer restarted = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile });
            Assert.Equal(5f, await AdminApiTests.InferOneAsync(restarted, "revived", 1));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Push_WithAWarmupSample_WarmsOnIt_AndOneNotFittingTheSignatureIs400NamingTheMismatch()
    {
        await using TestServer server = await TestServer.StartAsync(Repository);
        string Query(string config) => "?config=" + Uri.EscapeDataString(config);

        var (status, body) = await AdminApiTests.PushAsync(server, "warmed", AdminApiTests.Adder(1), Query("""{"warmup": {"inputs": {"input": [[0.5], [1.5]]}}}"""));
        Assert.True(status == 201, $"push with a fitting sample: HTTP {status} {body?.ToJsonString()}");
        Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "warmed", 1));

        (status, body) = await AdminApiTests.PushAsync(server, "warmed", AdminApiTests.Adder(2), Query("""{"warmup": {"inputs": {"input": [[0.5, 1.5]]}}}"""));
        Assert.Equal(400, status);
        Assert.Contains("'warmup.inputs.input' has shape [1, 2], but the model's input 'input' is [-1, 1]", (string?)body!["error"]);
        Assert.Equal(404, (await server.GetAsync("/v2/admin/models/warmed/versions/2")).Status);
    }

    [Fact]
    public async Task WrongMasterKey_FailsTheVersionsClearly_AndChangesNothingOnDisk()
    {
        string keyFile = Path.Combine(_folder, "master.key");
        MasterKey.Generate().Save(keyFile);
        string data = TestServer.NewDataDirectory();
        try
        {
            await using (TestServer server = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = keyFile }))
            {
                Assert.Equal(201, (await AdminApiTests.PushAsync(server, "locked", AdminApiTests.Adder(1))).Status);
            }

            string artifacts = Path.Combine(data, "artifacts");
            string before = HashTree(artifacts);
            string wrongKey = Path.Combine(_folder, "wrong.key");
            MasterKey.Generate().Save(wrongKey);

            await using (TestServer wrong = await TestServer.StartAsync(Repository, o => o with { DataDirectory = data, MasterKeyFile = wrongKey }))
            {
                var (status, body) = await wrong.GetAsync("/v2/models/locked/versions/1/ready");
                Assert.Equal(400, status);
                Assert.Contains("key", (string?)body!["error"]);
                Assert.NotEqual(200, (await wrong.PostAsync("/v2/models/locked/infer",
                    """{"inputs":[{"name":"input","shape":[1,1],"datatype":"FP32","data":[1]}]}""")).Status);
            }

            Assert.Equal(before, HashTree(artifacts));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task CorruptedArtifact_IsRefused_AndTheLoadedVersionKeepsServing()
    {
        await using TestServer server = await TestServer.StartAsync(Repository);
        var (_, pushed) = await AdminApiTests.PushAsync(server, "fragile", AdminApiTests.Adder(1));
        string sha = (string)pushed!["sha256"]!;
        string file = Directory.EnumerateFiles(server.DataDirectory, sha, SearchOption.AllDirectories).Single();
        byte[] bytes = File.ReadAllBytes(file);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(file, bytes);

        var (status, body) = await server.PostAsync("/v2/repository/models/fragile/load", "");

        Assert.Equal(400, status);
        Assert.Contains("sha256", (string?)body!["error"]);
        Assert.Contains("keep serving", (string?)body["error"]);
        Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "fragile", 1));
    }

    [Fact]
    public async Task NewVersionFolder_IsRegisteredAndServedByTheRepositoryScan()
    {
        string Folder(int version) => Path.Combine(Repository, "dropped", version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(Folder(1));
        SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 1).Save(Path.Combine(Folder(1), "model.onnx"));
        await using TestServer server = await TestServer.StartAsync(Repository, o => o with { RepositoryPollInterval = TimeSpan.FromMilliseconds(200) });
        Assert.Equal(2f, await AdminApiTests.InferOneAsync(server, "dropped", 1));

        // Written elsewhere and moved in, as a deployment would, so the scan never sees half a file.
        string staging = Path.Combine(_folder, "staging");
        Directory.CreateDirectory(staging);
        SampleModels.AddConstant(TensorElementType.Float, 5, "batch", 1).Save(Path.Combine(staging, "model.onnx"));
        Directory.Move(staging, Folder(7));

        var deadline = Stopwatch.StartNew();
        while ((await server.GetAsync("/v2/models/dropped/versions/7/ready")).Status != 200)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "version folder 7 was not picked up within 60 s");
            await Task.Delay(100);
        }

        Assert.Equal(6f, await AdminApiTests.InferOneAsync(server, "dropped", 1));
        var (_, version) = await server.GetAsync("/v2/admin/models/dropped/versions/7");
        Assert.Equal("repository", (string?)version!["creator"]);
    }

    private static async Task<int> RotateAsync(string data, MasterKey oldKey, MasterKey newKey)
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(data, ModelRegistry.DefaultFileName));
        return await MasterKeyRotation.RotateAsync(registry, oldKey, newKey, default);
    }

    private static async Task<RegisteredVersion> ReadVersionAsync(string data, string model, long version)
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(data, ModelRegistry.DefaultFileName));
        return (await registry.GetVersionAsync(model, version))!;
    }

    private static void AssertNowhereUnder(string folder, byte[] needle)
    {
        foreach (string file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            Assert.True(File.ReadAllBytes(file).AsSpan().IndexOf(needle) < 0, $"plaintext model bytes found in {file}");
        }
    }

    private static string HashTree(string folder) => string.Join("\n", Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(f => f + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))));
}
