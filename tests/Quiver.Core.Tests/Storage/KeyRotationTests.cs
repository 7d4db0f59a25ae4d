using System.Security.Cryptography;
using Quiver.Core.Storage;
using Quiver.Onnx.Model;

namespace Quiver.Core.Tests.Storage;

public sealed class KeyRotationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-rotation-").FullName;
    private readonly MasterKey _oldKey = MasterKey.Generate();
    private readonly MasterKey _newKey = MasterKey.Generate();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<StoredArtifact[]> PutTwoModelsAsync()
    {
        var store = new ArtifactStore(_root, _oldKey);
        return
        [
            await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes())),
            await store.PutAsync(new MemoryStream(SampleModels.StringIdentity().ToBytes())),
        ];
    }

    private Dictionary<string, byte[]> Snapshot() =>
        Directory.GetFiles(_root, "*", SearchOption.AllDirectories).ToDictionary(p => p, File.ReadAllBytes);

    [Fact]
    public async Task Rewrap_NewKeyOpensEveryArtifact_OldKeyNoLonger_AndFilesAreUntouched()
    {
        var artifacts = await PutTwoModelsAsync();
        var before = Snapshot();

        var rewrapped = KeyRotation.Rewrap(artifacts.Select(a => (a.Sha256, a.WrappedKey!)), _oldKey, _newKey);

        Assert.Equal(artifacts.Select(a => a.Sha256), rewrapped.Select(r => r.Sha256));
        var newStore = new ArtifactStore(_root, _newKey);
        var oldStore = new ArtifactStore(_root, _oldKey);
        foreach (var (sha256, wrappedKey) in rewrapped)
        {
            var model = await newStore.ReadVerifiedAsync(sha256, wrappedKey);
            Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(model)));
            await Assert.ThrowsAsync<ArtifactKeyException>(() => oldStore.ReadVerifiedAsync(sha256, wrappedKey));
        }

        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task Rewrap_OldWrappedKeys_DoNotOpenUnderTheNewMasterKey()
    {
        var artifact = (await PutTwoModelsAsync())[0];
        KeyRotation.Rewrap([(artifact.Sha256, artifact.WrappedKey!)], _oldKey, _newKey);

        await Assert.ThrowsAsync<ArtifactKeyException>(
            () => new ArtifactStore(_root, _newKey).ReadVerifiedAsync(artifact.Sha256, artifact.WrappedKey));
    }

    [Fact]
    public async Task Rewrap_WrongOldKey_NamesTheArtifactAndReturnsNothing()
    {
        var artifacts = await PutTwoModelsAsync();
        var wrongKey = MasterKey.Generate();
        var before = Snapshot();

        var error = Assert.Throws<ArtifactKeyException>(
            () => KeyRotation.Rewrap(artifacts.Select(a => (a.Sha256, a.WrappedKey!)), wrongKey, _newKey));

        Assert.Contains(artifacts[0].Sha256, error.Message);
        Assert.Contains("does not open", error.Message);
        Assert.Contains("Nothing was re-wrapped", error.Message);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task Rewrap_KeysAlreadyUnderTheNewKey_ComeBackUnchanged()
    {
        var artifacts = await PutTwoModelsAsync();
        var firstPass = KeyRotation.Rewrap([(artifacts[0].Sha256, artifacts[0].WrappedKey!)], _oldKey, _newKey);
        // A rotation re-run after only the first row was applied: one key is under the new master key already.
        (string, byte[])[] mixed = [firstPass[0], (artifacts[1].Sha256, artifacts[1].WrappedKey!)];

        var secondPass = KeyRotation.Rewrap(mixed, _oldKey, _newKey);

        Assert.Same(firstPass[0].WrappedKey, secondPass[0].WrappedKey);
        var newStore = new ArtifactStore(_root, _newKey);
        foreach (var (sha256, wrappedKey) in secondPass)
        {
            await newStore.ReadVerifiedAsync(sha256, wrappedKey);
        }
    }
}
