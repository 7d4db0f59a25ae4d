using System.Security.Cryptography;
using Quiver.Core.Storage;

namespace Quiver.Core.Tests.Storage;

public sealed class MasterKeyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quiver-keys-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Generate_GivesDistinctKeysWithSixteenHexDigitIds()
    {
        var a = MasterKey.Generate();
        var b = MasterKey.Generate();

        Assert.NotEqual(a.KeyId, b.KeyId);
        Assert.Matches("^[0-9a-f]{16}$", a.KeyId);
    }

    [Fact]
    public void FromBase64_SameKey_HasTheSameIdAndOpensWhatTheOtherWrapped()
    {
        var key = MasterKey.Generate();
        var dataKey = RandomNumberGenerator.GetBytes(MasterKey.KeyBytes);

        var copy = MasterKey.FromBase64(key.ToBase64());

        Assert.Equal(key.KeyId, copy.KeyId);
        Assert.Equal(dataKey, copy.Unwrap(key.Wrap(dataKey)));
    }

    [Fact]
    public void FromFile_RawBytesAndBase64Text_ReadTheSameKey()
    {
        var raw = RandomNumberGenerator.GetBytes(MasterKey.KeyBytes);
        var rawPath = Path.Combine(_directory, "raw.key");
        var textPath = Path.Combine(_directory, "text.key");
        File.WriteAllBytes(rawPath, raw);
        File.WriteAllText(textPath, "  " + Convert.ToBase64String(raw) + "\n");

        Assert.Equal(MasterKey.FromFile(rawPath).KeyId, MasterKey.FromFile(textPath).KeyId);
    }

    [Fact]
    public void FromFile_Missing_SaysTheKeyFileDoesNotExist()
    {
        var path = Path.Combine(_directory, "absent", "master.key");

        var error = Assert.Throws<FileNotFoundException>(() => MasterKey.FromFile(path));

        Assert.Contains($"master key file '{path}' does not exist", error.Message);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    public void FromFile_Base64OfTheWrongLength_SaysHowManyBytesItHolds(int length)
    {
        var path = Path.Combine(_directory, "short.key");
        File.WriteAllText(path, Convert.ToBase64String(new byte[length]));

        var error = Assert.Throws<FormatException>(() => MasterKey.FromFile(path));

        Assert.Contains(path, error.Message);
        Assert.Contains($"decodes to {length} bytes", error.Message);
        Assert.Contains("exactly 32 bytes", error.Message);
    }

    [Fact]
    public void FromFile_NeitherRawKeyNorBase64_SaysItIsNotBase64()
    {
        var path = Path.Combine(_directory, "garbage.key");
        File.WriteAllText(path, "correct horse battery staple!");

        var error = Assert.Throws<FormatException>(() => MasterKey.FromFile(path));

        Assert.Contains(path, error.Message);
        Assert.Contains("not valid base64", error.Message);
    }

    [Fact]
    public void FromEnvironment_ReadsBase64_AndNamesAnUnsetVariable()
    {
        var variable = "QUIVER_TEST_MASTER_KEY_" + Guid.NewGuid().ToString("N");
        var key = MasterKey.Generate();

        var unset = Assert.Throws<InvalidOperationException>(() => MasterKey.FromEnvironment(variable));
        Environment.SetEnvironmentVariable(variable, key.ToBase64());
        try
        {
            Assert.Equal(key.KeyId, MasterKey.FromEnvironment(variable).KeyId);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        Assert.Contains($"{variable} is not set", unset.Message);
    }

    [Fact]
    public void FromEnvironment_BadValue_NamesTheVariable()
    {
        var variable = "QUIVER_TEST_MASTER_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "not a key");
        try
        {
            var error = Assert.Throws<FormatException>(() => MasterKey.FromEnvironment(variable));

            Assert.Contains($"environment variable {variable}", error.Message);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public void Save_ThenFromFile_ReadsTheSameKeyFromAFileOnlyItsOwnerCanRead()
    {
        var key = MasterKey.Generate();
        var path = Path.Combine(_directory, "keys", "master.key");

        key.Save(path);

        Assert.Equal(key.KeyId, MasterKey.FromFile(path).KeyId);
        Assert.Equal([path], Directory.GetFiles(Path.GetDirectoryName(path)!));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void Unwrap_KeyWrappedByAnotherMasterKey_NamesBothIds()
    {
        var owner = MasterKey.Generate();
        var other = MasterKey.Generate();
        var wrapped = owner.Wrap(RandomNumberGenerator.GetBytes(MasterKey.KeyBytes));

        var error = Assert.Throws<ArtifactKeyException>(() => other.Unwrap(wrapped));

        Assert.Contains($"key id {owner.KeyId}", error.Message);
        Assert.Contains($"key id {other.KeyId}", error.Message);
    }

    [Fact]
    public void Unwrap_DamagedOrMalformedKey_IsRefused()
    {
        var key = MasterKey.Generate();
        var damaged = key.Wrap(RandomNumberGenerator.GetBytes(MasterKey.KeyBytes));
        damaged[30] ^= 0x80;

        Assert.Contains("damaged", Assert.Throws<ArtifactKeyException>(() => key.Unwrap(damaged)).Message);
        Assert.Contains("malformed", Assert.Throws<ArtifactKeyException>(() => key.Unwrap(new byte[12])).Message);
    }

    [Fact]
    public void Wrap_SameDataKeyTwice_GivesDifferentBytes()
    {
        var key = MasterKey.Generate();
        var dataKey = RandomNumberGenerator.GetBytes(MasterKey.KeyBytes);

        Assert.NotEqual(key.Wrap(dataKey), key.Wrap(dataKey));
    }

    [Fact]
    public void Wrap_DataKeyOfTheWrongLength_IsAnArgumentError()
    {
        Assert.Throws<ArgumentException>(() => MasterKey.Generate().Wrap(new byte[16]));
    }
}
