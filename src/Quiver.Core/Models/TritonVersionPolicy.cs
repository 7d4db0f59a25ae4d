namespace Quiver.Core.Models;

/// <summary>Which of Triton's version policies a config.pbtxt chose.</summary>
public enum TritonVersionPolicyKind
{
    /// <summary>The highest <see cref="TritonVersionPolicy.NumVersions"/> versions.</summary>
    Latest,

    /// <summary>Every version.</summary>
    All,

    /// <summary>Exactly the <see cref="TritonVersionPolicy.Versions"/> listed.</summary>
    Specific,
}

/// <summary>Triton's <c>version_policy</c>: which numeric version folders of a model are served.</summary>
public sealed record TritonVersionPolicy(TritonVersionPolicyKind Kind, int NumVersions, long[] Versions)
{
    /// <summary>Triton's default when a config.pbtxt has no version_policy: only the highest version.</summary>
    public static TritonVersionPolicy Default { get; } = new(TritonVersionPolicyKind.Latest, 1, []);

    /// <summary>The versions to load out of those present, ascending.</summary>
    public long[] Select(IEnumerable<long> available)
    {
        long[] sorted = available.Distinct().Order().ToArray();
        return Kind switch
        {
            TritonVersionPolicyKind.Latest => sorted[Math.Max(0, sorted.Length - NumVersions)..],
            TritonVersionPolicyKind.Specific => sorted.Where(v => Versions.Contains(v)).ToArray(),
            _ => sorted,
        };
    }
}
