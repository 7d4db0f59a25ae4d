using System.Security.Cryptography;

namespace Quiver.Core.Security;

/// <summary>A key kept in a file of its own under the data dir: created once, readable by its owner only.</summary>
internal static class KeyFile
{
    /// <summary>Writes <paramref name="bytes"/> random bytes to <paramref name="path"/> unless the file exists (another process may win the race).</summary>
    public static void CreateIfMissing(string path, int bytes)
    {
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var file = new FileStream(path, options);
            file.Write(RandomNumberGenerator.GetBytes(bytes));
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first; use theirs.
        }
    }
}
