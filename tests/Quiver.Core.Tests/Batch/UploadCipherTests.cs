using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

/// <summary>The sealed form of an uploaded input: round trips, seeks, and every kind of change to the file is caught.</summary>
public sealed class UploadCipherTests : IDisposable
{
    private const int Chunk = 64 * 1024;
    private const int Header = 44;
    private const int Record = Chunk + 16;

    private readonly string _folder = Directory.CreateTempSubdirectory("quiver-upload-cipher-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk - 1)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData(3 * Chunk + 12345)]
    public async Task Sealed_ReadsBackExactly_AndHoldsNoPlaintext(int length)
    {
        UploadCipher cipher = Cipher();
        byte[] plain = Plain(length);

        byte[] sealedFile = await SealAsync(cipher, plain);

        Assert.Equal(Header + length + 16 * (length / Chunk + 1), sealedFile.Length);
        if (length >= 32)
        {
            Assert.True(sealedFile.AsSpan().IndexOf(plain.AsSpan(0, 32)) < 0, "the first plaintext bytes are in the file");
        }

        using Stream opened = Open(cipher, sealedFile);
        Assert.Equal(length, opened.Length);
        var read = new MemoryStream();
        opened.CopyTo(read, 1000); // an odd buffer size, so reads straddle chunk borders
        Assert.Equal(plain, read.ToArray());
    }

    [Fact]
    public async Task Seek_ReadsFromAnyOffset_AsACheckpointResumeDoes()
    {
        UploadCipher cipher = Cipher();
        byte[] plain = Plain(3 * Chunk + 99);
        using Stream opened = Open(cipher, await SealAsync(cipher, plain));

        foreach (long offset in new long[] { 2 * Chunk + 5, 7, Chunk, plain.Length - 3, 0 })
        {
            opened.Position = offset;
            byte[] buffer = new byte[Math.Min(5000, plain.Length - offset)];
            opened.ReadExactly(buffer);
            Assert.Equal(plain.AsSpan((int)offset, buffer.Length).ToArray(), buffer);
        }

        opened.Position = plain.Length;
        Assert.Equal(0, opened.Read(new byte[10]));
    }

    [Fact]
    public async Task ChangedByte_FailsTheChunkWithTheReason()
    {
        UploadCipher cipher = Cipher();
        byte[] sealedFile = await SealAsync(cipher, Plain(3 * Chunk));
        sealedFile[Header + Record + 100] ^= 1;
        using Stream opened = Open(cipher, sealedFile);

        opened.ReadExactly(new byte[Chunk]);
        BatchException error = Assert.Throws<BatchException>(() => opened.ReadExactly(new byte[10]));

        Assert.Equal(BatchErrorKind.Input, error.Kind);
        Assert.Contains("chunk 1", error.Message);
        Assert.Contains("fails authentication", error.Message);
    }

    [Fact]
    public async Task SwappedChunks_Fail()
    {
        UploadCipher cipher = Cipher();
        byte[] sealedFile = await SealAsync(cipher, Plain(3 * Chunk));
        byte[] first = sealedFile.AsSpan(Header, Record).ToArray();
        sealedFile.AsSpan(Header + Record, Record).CopyTo(sealedFile.AsSpan(Header));
        first.CopyTo(sealedFile.AsSpan(Header + Record));
        using Stream opened = Open(cipher, sealedFile);

        Assert.Contains("chunk 0", Assert.Throws<BatchException>(() => opened.ReadExactly(new byte[10])).Message);
    }

    [Theory]
    [InlineData(2 * Record)] // at a chunk border: only a last chunk may be short, so the length gives it away
    [InlineData(Record + 5)] // inside a tag
    public async Task CutShort_IsRefusedOnOpen(int kept)
    {
        UploadCipher cipher = Cipher();
        byte[] sealedFile = await SealAsync(cipher, Plain(3 * Chunk + 10));

        BatchException error = Assert.Throws<BatchException>(() => Open(cipher, sealedFile[..(Header + kept)]));

        Assert.Contains("cut short or added to", error.Message);
    }

    [Fact]
    public async Task CutInsideAChunk_FailsThatChunk()
    {
        UploadCipher cipher = Cipher();
        byte[] sealedFile = await SealAsync(cipher, Plain(3 * Chunk + 10));
        using Stream opened = Open(cipher, sealedFile[..(Header + Record + 1000)]);

        opened.Position = Chunk;
        Assert.Contains("chunk 1", Assert.Throws<BatchException>(() => opened.ReadExactly(new byte[10])).Message);
    }

    [Fact]
    public async Task AnotherServersKey_IsNamed_NotReportedAsDamage()
    {
        byte[] sealedFile = await SealAsync(Cipher("a.key"), Plain(100));

        BatchException error = Assert.Throws<BatchException>(() => Open(Cipher("b.key"), sealedFile));

        Assert.Contains("another upload key", error.Message);
    }

    [Fact]
    public void PlainFile_IsRefusedAsNotSealed()
    {
        BatchException error = Assert.Throws<BatchException>(() => Open(Cipher(), "a,b\n1,2\n"u8.ToArray()));

        Assert.Contains("no QVU1 header", error.Message);
    }

    [Fact]
    public void KeyFile_IsCreatedOnce_AndReadAgain()
    {
        string path = Path.Combine(_folder, "upload.key");

        UploadCipher.FromKeyFile(path);
        byte[] first = File.ReadAllBytes(path);
        UploadCipher.FromKeyFile(path);

        Assert.Equal(32, first.Length);
        Assert.Equal(first, File.ReadAllBytes(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Theory]
    [InlineData("npy")]
    [InlineData("csv")]
    public async Task SealedInput_RunsThroughTheBatchRunner_LikeItsPlainFile(string format)
    {
        using var files = new BatchFixture();
        string model = files.Mlp();
        float[][] rows = BatchFixture.RandomRows(6000); // more than one chunk either way
        string plain = format == "npy" ? files.Npy("in.npy", rows) : files.Csv("in.csv", rows);
        UploadCipher cipher = Cipher();
        string sealedPath = files.Path("sealed." + format);
        await File.WriteAllBytesAsync(sealedPath, await SealAsync(cipher, await File.ReadAllBytesAsync(plain)));

        BatchFixture.Run(model, new BatchOptions { InputPath = plain, OutputPath = files.Path("plain.jsonl"), BatchSize = 64 });
        BatchResult result = BatchFixture.Run(model, new BatchOptions
        {
            InputPath = sealedPath, InputCipher = cipher, OutputPath = files.Path("sealed.jsonl"), BatchSize = 64,
        });

        Assert.Equal(6000, result.RowsWritten);
        Assert.Equal(File.ReadAllText(files.Path("plain.jsonl")), File.ReadAllText(files.Path("sealed.jsonl")));
    }

    private UploadCipher Cipher(string name = "upload.key") => UploadCipher.FromKeyFile(Path.Combine(_folder, name));

    private static byte[] Plain(int length)
    {
        byte[] plain = new byte[length];
        new Random(length).NextBytes(plain);
        return plain;
    }

    private static async Task<byte[]> SealAsync(UploadCipher cipher, byte[] plain)
    {
        // A source that returns few bytes per read, as a request body does.
        using var source = new TrickleStream(plain);
        using var sealedFile = new MemoryStream();
        await cipher.SealAsync(source, sealedFile, CancellationToken.None);
        return sealedFile.ToArray();
    }

    private static Stream Open(UploadCipher cipher, byte[] sealedFile) => cipher.Open(new MemoryStream(sealedFile, writable: false), "upload.csv");

    private sealed class TrickleStream(byte[] data) : MemoryStream(data, writable: false)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, 777)], cancellationToken);
    }
}
