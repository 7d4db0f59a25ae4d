using System.Reflection;
using System.Security.Cryptography;

namespace Quiver.Server.Dashboard;

/// <summary>
/// The dashboard's static files (<c>src/Quiver.Server/wwwroot</c>), embedded in this assembly so the single binary
/// carries them: no file next to it to lose, nothing fetched from elsewhere, so the page works offline.
/// </summary>
internal sealed class DashboardAssets
{
    private const string Prefix = "wwwroot/";

    private static readonly Dictionary<string, string> s_contentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    };

    private readonly Dictionary<string, Asset> _assets;

    private DashboardAssets(Dictionary<string, Asset> assets) => _assets = assets;

    /// <summary>The page served at <c>/ui/</c>.</summary>
    public const string IndexFile = "index.html";

    /// <summary>Reads every embedded file under wwwroot/ once.</summary>
    public static DashboardAssets Load()
    {
        Assembly assembly = typeof(DashboardAssets).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (string resource in assembly.GetManifestResourceNames())
        {
            string name = resource.Replace('\\', '/');
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] content = copy.ToArray();
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content).AsSpan(0, 8)) + "\"";
            string type = s_contentTypes.GetValueOrDefault(Path.GetExtension(name), "application/octet-stream");
            assets[name[Prefix.Length..]] = new Asset(content, type, etag);
        }

        return new DashboardAssets(assets);
    }

    /// <summary>The names of the files, relative to wwwroot/.</summary>
    public IEnumerable<string> Names => _assets.Keys;

    /// <summary>Finds a file by its path relative to wwwroot/ (e.g. "dashboard.js").</summary>
    public bool TryGet(string path, out Asset asset) => _assets.TryGetValue(path, out asset!);

    /// <summary>One file: its bytes, content type, and an entity tag from its hash.</summary>
    public sealed record Asset(byte[] Content, string ContentType, string ETag);
}
