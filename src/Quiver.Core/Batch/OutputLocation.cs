namespace Quiver.Core.Batch;

/// <summary>
/// Checks an output location a caller of the server asks for: it must lie under one allowed root (the data directory,
/// or <c>--batch-output-root</c>), with no symbolic link on the way that could lead out of it, so a job cannot write
/// anywhere on the server's disk; and it must not exist unless the caller asks to overwrite it.
/// </summary>
public sealed class OutputLocation(string root)
{
    /// <summary>The allowed root, as an absolute path.</summary>
    public string Root { get; } = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));

    /// <summary>Returns the absolute output path, or throws a <see cref="BatchErrorKind.Output"/> error saying what is wrong.</summary>
    public string Check(string requested, bool overwrite)
    {
        if (string.IsNullOrWhiteSpace(requested) || requested.EndsWith('/') || requested.EndsWith(Path.DirectorySeparatorChar))
        {
            throw new BatchException(BatchErrorKind.Output, $"output '{requested}' is not a file path; give a file under '{Root}'.");
        }

        // Relative paths are taken under the root, so "run1/out.jsonl" works without knowing where the root is.
        string full = Path.GetFullPath(requested, Root);
        if (!full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new BatchException(BatchErrorKind.Output,
                $"output '{requested}' is outside the allowed output root '{Root}'; jobs write only under it (set it with --batch-output-root).");
        }

        // ".." is gone after GetFullPath; a link below the root is the remaining way out of it.
        for (string? part = Path.GetDirectoryName(full); part is not null && part.Length > Root.Length; part = Path.GetDirectoryName(part))
        {
            if (new DirectoryInfo(part) is { Exists: true, LinkTarget: not null })
            {
                throw new BatchException(BatchErrorKind.Output,
                    $"output '{requested}' goes through the symbolic link '{part}'; give a path under '{Root}' without links.");
            }
        }

        if (Directory.Exists(full))
        {
            throw new BatchException(BatchErrorKind.Output, $"output '{requested}' is a directory; give a file path.");
        }

        if (new FileInfo(full).LinkTarget is not null)
        {
            throw new BatchException(BatchErrorKind.Output, $"output '{requested}' is a symbolic link; give a plain file path.");
        }

        if (!overwrite && File.Exists(full))
        {
            throw new BatchException(BatchErrorKind.Output, $"output '{requested}' exists; pass \"overwrite\": true to replace it.");
        }

        return full;
    }
}
