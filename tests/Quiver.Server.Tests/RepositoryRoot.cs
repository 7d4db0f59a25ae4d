namespace Quiver.Server.Tests;

/// <summary>Finds the checkout's root (the folder holding Quiver.slnx), for tests that use examples/.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Quiver.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Quiver.slnx not found above {AppContext.BaseDirectory}");
    }
}
