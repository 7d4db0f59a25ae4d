using System.Text.RegularExpressions;

namespace Quiver.Core.Security;

/// <summary>Tenant names: what keys, models and claims may call a tenant.</summary>
public static partial class TenantNames
{
    /// <summary>Throws <see cref="ArgumentException"/> unless the name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.</summary>
    public static void Require(string tenant)
    {
        if (!Pattern().IsMatch(tenant))
        {
            throw new ArgumentException(
                $"tenant '{tenant}' is not a valid name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }
    }

    /// <summary>True for a valid tenant name.</summary>
    public static bool IsValid(string tenant) => Pattern().IsMatch(tenant);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex Pattern();
}
