using System.Text;

namespace Quiver.Server.Tests.Security;

/// <summary>Looks for values written in clear: in files as their raw bytes, base64 and hex.</summary>
internal static class ClearTextSearch
{
    /// <summary>A value as its raw bytes (SQLite pages, binary files), base64 (payload logs), and hex.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Encodings(string name, byte[] raw) =>
    [
        (name, raw),
        (name + " base64", Encoding.ASCII.GetBytes(Convert.ToBase64String(raw))),
        (name + " hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(raw))),
    ];

    /// <summary>The UTF-8 text of a value, in the same three encodings.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Encodings(string name, string value) => Encodings(name, Encoding.UTF8.GetBytes(value));

    /// <summary>"needle in file" for every needle found in any of <paramref name="files"/>.</summary>
    public static string[] Find(IEnumerable<string> files, IEnumerable<(string Name, byte[] Bytes)> needles)
    {
        var found = new List<string>();
        foreach (string file in files)
        {
            byte[] content;
            try
            {
                content = File.ReadAllBytes(file);
            }
            catch (IOException)
            {
                continue; // replaced by rename while listed (a checkpoint); the next search reads its successor
            }

            foreach ((string name, byte[] bytes) in needles)
            {
                if (content.AsSpan().IndexOf(bytes) >= 0)
                {
                    found.Add($"{name} in {file}");
                }
            }
        }

        return [.. found];
    }
}
