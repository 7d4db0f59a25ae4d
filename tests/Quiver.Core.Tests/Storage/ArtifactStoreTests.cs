using System.Security.Cryptography;
using Quiver.Core.Storage;
using Quiver.Onnx.Model;
using Quiver.Onnx;

namespace Quiver.Core.Tests.Storage;

public sealed class ArtifactStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("quiver-artifacts-").FullName;
    private readonly MasterKey _key = MasterKey.Generate();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private ArtifactStore Store(bool encrypted, long maxEncryptedBytes = ArtifactStore.DefaultMaxEncryptedBytes) =>
        new(_root, encrypted ? _key : null, maxEncryptedBytes);

    // Every file but the store's lock, which stays once a put has committed.
    private string[] FilesInStore() =>
        Directory.GetFiles(_root, "*", SearchOption.AllDirectories).Where(p => Path.GetFileName(p) != ArtifactStore.LockFileName).ToArray();

    private static string Sha256Of(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Put_ThenRead_ReturnsTheModelThatOnnxRuntimeLoads(bool encrypted)
    {
        var store = Store(encrypted);
        var model = StorageTestModels.Mlp().ToBytes();

        var stored = await store.PutAsync(new MemoryStream(model));
        var read = await store.ReadVerifiedAsync(stored.Sha256, stored.WrappedKey);

        Assert.Equal(model, read);
        Assert.Equal(Sha256Of(model), stored.Sha256);
        Assert.Equal(model.Length, stored.SizeBytes);
        Assert.Equal(encrypted, stored.Encrypted);
        Assert.Equal(encrypted ? _key.KeyId : null, stored.KeyId);
        Assert.Equal(encrypted, stored.WrappedKey is not null);
        Assert.False(stored.AlreadyStored);
        using var session = InferenceSession.FromBytes(read);
        Assert.Equal("input", session.Inputs[0].Name);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Put_WritesOneFileNamedBySha256UnderItsFirstTwoDigits(bool encrypted)
    {
        var model = StorageTestModels.Mlp().ToBytes();
        var sha256 = Sha256Of(model);

        await Store(encrypted).PutAsync(new TrickleStream(model));

        var file = Assert.Single(FilesInStore());
        Assert.Equal(Path.Combine(_root, sha256[..2], sha256), file);
        var onDisk = File.ReadAllBytes(file);
        if (encrypted)
        {
            Assert.Equal("QVR1"u8.ToArray(), onDisk[..4]);
            Assert.Equal(model.Length + 40, onDisk.Length);
        }
        else
        {
            Assert.Equal(model, onDisk);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Put_SameContentTwice_KeepsOneFileAndReturnsTheExistingArtifact(bool encrypted)
    {
        var store = Store(encrypted);
        var model = StorageTestModels.Mlp().ToBytes();
        var first = await store.PutAsync(new MemoryStream(model));
        var fileBefore = File.ReadAllBytes(store.PathOf(first.Sha256));

        var second = await store.PutAsync(new MemoryStream(model));

        Assert.True(second.AlreadyStored);
        Assert.Equal(first.Sha256, second.Sha256);
        Assert.Equal(first.SizeBytes, second.SizeBytes);
        Assert.Equal(encrypted, second.Encrypted);
        Assert.Null(second.WrappedKey); // the registry reuses the key it recorded for the first put
        Assert.Single(FilesInStore());
        Assert.Equal(fileBefore, File.ReadAllBytes(store.PathOf(first.Sha256)));
        Assert.Equal(model, await store.ReadVerifiedAsync(first.Sha256, first.WrappedKey));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Put_SameContentConcurrently_StoresOneFileWhoseKeyExactlyOnePutReturns(bool encrypted)
    {
        var store = Store(encrypted);
        var model = StorageTestModels.Mlp().ToBytes();

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => store.PutAsync(new MemoryStream(model)))));

        Assert.Single(FilesInStore());
        Assert.Single(results, r => !r.AlreadyStored);
        var written = results.Single(r => !r.AlreadyStored);
        Assert.Equal(model, await store.ReadVerifiedAsync(written.Sha256, written.WrappedKey));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Put_CancelledMidUpload_LeavesNoArtifactAndNoTemporaryFile(bool encrypted)
    {
        var store = Store(encrypted);
        var model = StorageTestModels.Mlp().ToBytes();
        var upload = new TrickleStream(model, stallAfter: model.Length / 2);
        using var cancellation = new CancellationTokenSource();

        var put = store.PutAsync(upload, cancellation.Token);
        await upload.Stalled.Task;
        // Mid-upload, a plaintext upload is being streamed to a temporary file; an encrypted one only to memory.
        var midUpload = FilesInStore();
        cancellation.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put);
        if (encrypted)
        {
            Assert.Empty(midUpload);
        }
        else
        {
            Assert.EndsWith(".part", Assert.Single(midUpload));
        }

        Assert.Empty(FilesInStore());
    }

    public static TheoryData<string, byte[], string> Refusals => new()
    {
        { "empty", [], "empty" },
        { "not ONNX", "This is a README, not a model."u8.ToArray(), "not a valid ONNX model" },
        { "truncated", StorageTestModels.Mlp().ToBytes()[..1500], "not a valid ONNX model" },
        { "cut after the graph", CutAfterGraph(), "opset_import" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Put_ContentThatIsNoModel_IsRefusedSayingWhyAndLeavesNothing(string kind, byte[] content, string reason)
    {
        foreach (var encrypted in new[] { false, true })
        {
            var error = await Assert.ThrowsAsync<ArtifactRejectedException>(() => Store(encrypted).PutAsync(new TrickleStream(content)));

            Assert.True(error.Message.Contains(reason, StringComparison.Ordinal), $"{kind}: {error.Message}");
            Assert.Empty(FilesInStore());
        }
    }

    [Theory]
    [InlineData("../../etc/passwd", true)]
    [InlineData("/etc/passwd", true)]
    [InlineData("weights.bin", false)]
    public async Task Put_ModelWithExternalData_IsRefusedNamingTheLocation(string location, bool outsideFolder)
    {
        foreach (var encrypted in new[] { false, true })
        {
            var error = await Assert.ThrowsAsync<ArtifactRejectedException>(
                () => Store(encrypted).PutAsync(new MemoryStream(StorageTestModels.WithExternalData(location))));

            Assert.Contains($"'{location}'", error.Message);
            Assert.Contains("external", error.Message);
            Assert.Equal(outsideFolder, error.Message.Contains("outside the model's folder"));
            Assert.Empty(FilesInStore());
        }
    }

    [Fact]
    public async Task Put_EncryptedLargerThanTheLimit_IsRefusedWhetherOrNotTheLengthIsKnown()
    {
        var store = Store(encrypted: true, maxEncryptedBytes: 1000);
        var model = StorageTestModels.Mlp().ToBytes();

        var known = await Assert.ThrowsAsync<ArtifactRejectedException>(() => store.PutAsync(new MemoryStream(model)));
        var streamed = await Assert.ThrowsAsync<ArtifactRejectedException>(() => store.PutAsync(new TrickleStream(model)));

        Assert.Contains("larger than 1000 bytes", known.Message);
        Assert.Contains("in memory", streamed.Message);
        Assert.Empty(FilesInStore());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Read_FileWithOneByteFlipped_IsRefusedNamingTheSha256(bool encrypted)
    {
        var store = Store(encrypted);
        var stored = await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));
        var path = store.PathOf(stored.Sha256);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        var error = await Assert.ThrowsAsync<ArtifactIntegrityException>(() => store.ReadVerifiedAsync(stored.Sha256, stored.WrappedKey));

        Assert.Contains(stored.Sha256, error.Message);
        Assert.Contains("does not match", error.Message);
    }

    [Fact]
    public async Task Read_FileReplacedByOtherContent_IsRefusedNamingWhatWasFound()
    {
        var store = Store(encrypted: false);
        var stored = await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));
        var other = SampleModels.StringIdentity().ToBytes();
        File.WriteAllBytes(store.PathOf(stored.Sha256), other);

        var error = await Assert.ThrowsAsync<ArtifactIntegrityException>(() => store.ReadVerifiedAsync(stored.Sha256, null));

        Assert.Contains($"found sha256 {Sha256Of(other)}", error.Message);
    }

    [Fact]
    public async Task Read_WrongMasterKey_IsRefusedNamingBothKeyIdsAndChangesNothing()
    {
        var stored = await Store(encrypted: true).PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));
        var before = Snapshot();
        var wrongKey = MasterKey.Generate();

        var error = await Assert.ThrowsAsync<ArtifactKeyException>(
            () => new ArtifactStore(_root, wrongKey).ReadVerifiedAsync(stored.Sha256, stored.WrappedKey));

        Assert.Contains("the master key does not open this artifact's data key", error.Message);
        Assert.Contains(_key.KeyId, error.Message);
        Assert.Contains(wrongKey.KeyId, error.Message);
        Assert.Contains(stored.Sha256, error.Message);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task Read_EncryptedWithoutAMasterKey_IsRefused()
    {
        var stored = await Store(encrypted: true).PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));

        var error = await Assert.ThrowsAsync<ArtifactKeyException>(() => Store(encrypted: false).ReadVerifiedAsync(stored.Sha256, stored.WrappedKey));

        Assert.Contains("no master key is configured", error.Message);
    }

    [Fact]
    public async Task Read_WrappedKeyOfAnotherArtifact_IsRefusedBeforeDecrypting()
    {
        var store = Store(encrypted: true);
        var mlp = await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));
        var other = await store.PutAsync(new MemoryStream(SampleModels.StringIdentity().ToBytes()));

        var error = await Assert.ThrowsAsync<ArtifactKeyException>(() => store.ReadVerifiedAsync(mlp.Sha256, other.WrappedKey));

        Assert.Contains("belongs to another artifact", error.Message);
    }

    [Fact]
    public async Task Read_EncryptedFileWithoutItsWrappedKey_SaysTheFileLooksEncrypted()
    {
        var store = Store(encrypted: true);
        var stored = await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));

        var error = await Assert.ThrowsAsync<ArtifactIntegrityException>(() => store.ReadVerifiedAsync(stored.Sha256, null));

        Assert.Contains("looks encrypted", error.Message);
    }

    [Fact]
    public async Task Read_PlaintextArtifactStoredBeforeEncryptionWasEnabled_StillLoads()
    {
        var model = StorageTestModels.Mlp().ToBytes();
        var stored = await Store(encrypted: false).PutAsync(new MemoryStream(model));

        Assert.Equal(model, await Store(encrypted: true).ReadVerifiedAsync(stored.Sha256, null));
    }

    [Fact]
    public async Task Read_MissingArtifact_SaysItIsNotInTheStore()
    {
        var sha256 = Sha256Of(StorageTestModels.Mlp().ToBytes());

        var error = await Assert.ThrowsAsync<ArtifactNotFoundException>(() => Store(encrypted: false).ReadVerifiedAsync(sha256, null));

        Assert.Contains(sha256, error.Message);
        Assert.Contains("not in the store", error.Message);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789")]
    [InlineData("")]
    public async Task Read_NameThatIsNoSha256_IsRejectedBeforeTouchingTheFileSystem(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store(encrypted: false).ReadVerifiedAsync(name, null));
    }

    [Fact]
    public async Task Encrypted_StoreFolderHoldsNoPlaintextOfTheModel_WhileAPlaintextStoreDoes()
    {
        byte[][] needles = [StorageTestModels.DistinctiveProducerBytes(), StorageTestModels.DistinctiveWeightBytes()];
        var model = StorageTestModels.Mlp().ToBytes();

        await Store(encrypted: true).PutAsync(new TrickleStream(model));
        var encryptedFiles = FilesInStore().Select(File.ReadAllBytes).ToArray();
        Directory.Delete(_root, recursive: true);
        await Store(encrypted: false).PutAsync(new TrickleStream(model));
        var plaintextFiles = FilesInStore().Select(File.ReadAllBytes).ToArray();

        Assert.NotEmpty(encryptedFiles);
        foreach (var needle in needles)
        {
            Assert.DoesNotContain(encryptedFiles, f => f.AsSpan().IndexOf(needle) >= 0);
            Assert.Contains(plaintextFiles, f => f.AsSpan().IndexOf(needle) >= 0);
        }
    }

    [Fact]
    public async Task Delete_RemovesTheArtifactOnce()
    {
        var store = Store(encrypted: false);
        var stored = await store.PutAsync(new MemoryStream(StorageTestModels.Mlp().ToBytes()));

        Assert.True(store.Delete(stored.Sha256));
        Assert.False(store.Delete(stored.Sha256));
        await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.ReadVerifiedAsync(stored.Sha256, null));
    }

    [Fact]
    public void RemoveAbandonedTemporaryFiles_DeletesOnlyUploadsIdleLongerThanTheAge()
    {
        var store = Store(encrypted: false);
        var folder = Directory.CreateDirectory(Path.Combine(_root, ArtifactStore.TemporaryFolderName)).FullName;
        var abandoned = Path.Combine(folder, "abandoned.part");
        var inProgress = Path.Combine(folder, "in-progress.part");
        File.WriteAllBytes(abandoned, [1, 2, 3]);
        File.WriteAllBytes(inProgress, [1, 2, 3]);
        File.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow.AddDays(-2));

        var removed = store.RemoveAbandonedTemporaryFiles(TimeSpan.FromHours(1));

        Assert.Equal(1, removed);
        Assert.Equal([inProgress], FilesInStore());
    }

    // A model cut right after its graph: opset_import (field 8) and what follows are gone, and it still parses.
    private static byte[] CutAfterGraph()
    {
        var full = StorageTestModels.Mlp().ToBytes();
        var model = StorageTestModels.Mlp().Build();
        model.OpsetImport.Clear();
        model.MetadataProps.Clear();
        var cut = OnnxModel.ToBytes(model);
        Assert.Equal(full[..cut.Length], cut);
        return cut;
    }

    private Dictionary<string, byte[]> Snapshot() => FilesInStore().ToDictionary(p => p, File.ReadAllBytes);
}
