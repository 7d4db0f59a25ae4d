namespace Quiver.Cli.Optimize;

/// <summary>Writes a file through a temporary file in the same folder and a rename, so readers never see half of it.</summary>
public static class AtomicFile
{
    public static void Write(string path, byte[] bytes)
    {
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath)!;
        string temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptimizeException($"cannot write '{path}': {e.Message}");
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
