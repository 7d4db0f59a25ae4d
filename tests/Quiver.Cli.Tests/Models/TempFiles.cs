namespace Quiver.Cli.Tests.Models;

/// <summary>A temporary folder for a test's files, deleted afterwards.</summary>
public sealed class TempFiles : IDisposable
{
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("quiver-models-tests-").FullName;

    /// <summary>Writes a file and returns its path.</summary>
    public string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Writes a text file and returns its path.</summary>
    public string Write(string name, string text)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A file of <paramref name="length"/> seeded random bytes.</summary>
    public string Random(string name, int length, int seed = 7)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return Write(name, bytes);
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temporary folder is harmless.
        }
    }
}
