using Quiver.Core.Lifecycle;
using Quiver.Core.Registry;
using Quiver.Core.Storage;
using Quiver.Onnx;
using Quiver.Onnx.Model;

namespace Quiver.Cli.Tests;

/// <summary><c>quiver keys</c> as a process, against a real data directory with an encrypted version in it.</summary>
public sealed class KeysCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(120);
    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-keys-").FullName;

    private string KeyFile => Path.Combine(_folder, "master.key");

    private string DataDirectory => Path.Combine(_folder, "data");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Generate_WritesAKey_AndNeverOverwritesOne()
    {
        using (QuiverProcess generate = QuiverProcess.Start("keys", "generate", "--output", KeyFile))
        {
            Assert.Equal(0, await generate.WaitForExitAsync(s_timeout));
        }

        string written = File.ReadAllText(KeyFile);
        Assert.Equal(MasterKey.KeyBytes, Convert.FromBase64String(written.Trim()).Length);

        using QuiverProcess again = QuiverProcess.Start("keys", "generate", "--output", KeyFile);
        Assert.Equal(1, await again.WaitForExitAsync(s_timeout));
        Assert.Contains("refusing to overwrite", again.Error);
        Assert.Equal(written, File.ReadAllText(KeyFile));
    }

    [Fact]
    public async Task Rotate_RewrapsEveryDataKey_ReplacesTheKeyFile_AndLeavesArtifactsUntouched()
    {
        MasterKey oldKey = MasterKey.Generate();
        oldKey.Save(KeyFile);
        RegisteredVersion pushed = await PushEncryptedAsync(oldKey);
        string artifact = Directory.EnumerateFiles(DataDirectory, pushed.Sha256, SearchOption.AllDirectories).Single();
        byte[] before = File.ReadAllBytes(artifact);

        using (QuiverProcess rotate = QuiverProcess.StartWithEnvironment(new Dictionary<string, string> { ["USER"] = "carol" },
            "keys", "rotate", "--master-key-file", KeyFile, "--data-dir", DataDirectory))
        {
            Assert.True(await rotate.WaitForExitAsync(s_timeout) == 0, rotate.Error);
            Assert.Contains("Re-wrapped 1 data key", rotate.Output);
        }

        MasterKey newKey = MasterKey.FromFile(KeyFile);
        Assert.NotEqual(oldKey.KeyId, newKey.KeyId);
        Assert.False(File.Exists(KeyFile + ".new"));
        Assert.Equal(before, File.ReadAllBytes(artifact));
        RegisteredVersion rotated = await ReadVersionAsync();
        Assert.Equal(newKey.KeyId, rotated.KeyId);
        var vault = new ArtifactVault(Path.Combine(DataDirectory, "artifacts"), () => newKey, null);
        Assert.NotEmpty(await vault.ReadAsync(rotated, default));
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(DataDirectory, ModelRegistry.DefaultFileName));
        Core.Security.Audit.AuditEntry audited = Assert.Single(await ((Core.Security.Audit.IAuditStore)registry).ReadAuditAsync(0, null, 10));
        Assert.Equal(("carol", "keys.rotate", "master-key", "success"), (audited.Actor, audited.Action, audited.Resource, audited.Outcome));
        Assert.Contains(newKey.KeyId, audited.Details);
    }

    [Fact]
    public async Task Rotate_WithTheWrongKey_FailsClearly_AndChangesNothing()
    {
        await PushEncryptedAsync(MasterKey.Generate());
        MasterKey wrong = MasterKey.Generate();
        wrong.Save(KeyFile);
        RegisteredVersion before = await ReadVersionAsync();

        using QuiverProcess rotate = QuiverProcess.Start("keys", "rotate", "--master-key-file", KeyFile, "--data-dir", DataDirectory);

        Assert.Equal(1, await rotate.WaitForExitAsync(s_timeout));
        Assert.StartsWith("error: ", rotate.Error.Trim());
        Assert.Contains("Nothing was re-wrapped", rotate.Error);
        Assert.Equal(wrong.KeyId, MasterKey.FromFile(KeyFile).KeyId);
        Assert.Equal(before.WrappedDataKey, (await ReadVersionAsync()).WrappedDataKey);
    }

    [Fact]
    public async Task Rotate_CutShortAfterRewrapping_IsFinishedByRunningItAgain()
    {
        MasterKey oldKey = MasterKey.Generate();
        oldKey.Save(KeyFile);
        await PushEncryptedAsync(oldKey);

        // What a rotation killed after re-wrapping leaves: the pending key, the data keys under it, the old key file.
        MasterKey pending = MasterKey.Generate();
        pending.Save(MasterKey.PendingPathFor(KeyFile));
        await using (IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(DataDirectory, ModelRegistry.DefaultFileName)))
        {
            Assert.Equal(1, await MasterKeyRotation.RotateAsync(registry, oldKey, pending, default));
        }

        using (QuiverProcess other = QuiverProcess.Start("keys", "rotate", "--master-key-file", KeyFile, "--data-dir", DataDirectory,
            "--new-key-file", SaveNewKey("other.key")))
        {
            Assert.Equal(1, await other.WaitForExitAsync(s_timeout));
            Assert.Contains($"a rotation to key {pending.KeyId} was cut short", other.Error);
        }

        using QuiverProcess rerun = QuiverProcess.Start("keys", "rotate", "--master-key-file", KeyFile, "--data-dir", DataDirectory);
        Assert.True(await rerun.WaitForExitAsync(s_timeout) == 0, rerun.Error);
        Assert.Equal(pending.KeyId, MasterKey.FromFile(KeyFile).KeyId);
        Assert.False(File.Exists(MasterKey.PendingPathFor(KeyFile)));
        Assert.Equal(pending.KeyId, (await ReadVersionAsync()).KeyId);
    }

    [Fact]
    public async Task Rotate_ToAGivenKeyFile_KeepsItPendingBesideTheKeyFileUntilDone_AndLeavesTheGivenFile()
    {
        MasterKey oldKey = MasterKey.Generate();
        oldKey.Save(KeyFile);
        await PushEncryptedAsync(oldKey);
        string given = SaveNewKey("given.key");

        using QuiverProcess rotate = QuiverProcess.Start("keys", "rotate", "--master-key-file", KeyFile, "--data-dir", DataDirectory, "--new-key-file", given);

        Assert.True(await rotate.WaitForExitAsync(s_timeout) == 0, rotate.Error);
        Assert.Equal(MasterKey.FromFile(given).KeyId, MasterKey.FromFile(KeyFile).KeyId);
        Assert.Equal(MasterKey.FromFile(given).KeyId, (await ReadVersionAsync()).KeyId);
        Assert.True(File.Exists(given));
        Assert.False(File.Exists(MasterKey.PendingPathFor(KeyFile)));
    }

    [Fact]
    public async Task Rotate_KeyFromTheEnvironment_IsRefusedSayingHowToMoveItToAKeyFile()
    {
        MasterKey key = MasterKey.Generate();
        await PushEncryptedAsync(key);

        using QuiverProcess rotate = QuiverProcess.StartWithEnvironment(
            new Dictionary<string, string> { [MasterKey.DefaultEnvironmentVariable] = key.ToBase64() }, "keys", "rotate", "--data-dir", DataDirectory);

        Assert.Equal(1, await rotate.WaitForExitAsync(s_timeout));
        Assert.Contains("the master key comes from QUIVER_MASTER_KEY, which a running server reads only at start", rotate.Error);
        Assert.Contains("quiver keys rotate --master-key-file master.key", rotate.Error);
        Assert.Equal(key.KeyId, (await ReadVersionAsync()).KeyId);
    }

    [Fact]
    public async Task Rotate_WithoutAKeyFile_SaysWhichOptionIsMissing()
    {
        using QuiverProcess rotate = QuiverProcess.StartWithEnvironment(
            new Dictionary<string, string> { [MasterKey.DefaultEnvironmentVariable] = "" }, "keys", "rotate", "--data-dir", DataDirectory);

        Assert.Equal(1, await rotate.WaitForExitAsync(s_timeout));
        Assert.Contains("--master-key-file is required", rotate.Error);
    }

    private string SaveNewKey(string name)
    {
        string path = Path.Combine(_folder, name);
        MasterKey.Generate().Save(path);
        return path;
    }

    private async Task<RegisteredVersion> PushEncryptedAsync(MasterKey key)
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(DataDirectory, ModelRegistry.DefaultFileName));
        var vault = new ArtifactVault(Path.Combine(DataDirectory, "artifacts"), () => key, null);
        using var model = new MemoryStream(SampleModels.AddConstant(TensorElementType.Float, 1, "batch", 1).ToBytes());
        PushResult result = await new ModelPublisher(registry, vault, OnnxRuntime.Instance).PushAsync(model, new PushRequest { Model = "m" }, default);
        Assert.NotNull(result.Version.WrappedDataKey);
        return result.Version;
    }

    private async Task<RegisteredVersion> ReadVersionAsync()
    {
        await using IModelRegistry registry = await ModelRegistry.OpenAsync(Path.Combine(DataDirectory, ModelRegistry.DefaultFileName));
        return (await registry.GetVersionAsync("m", 1))!;
    }
}
