namespace Quiver.Core.Security;

/// <summary>Roles as they are written in keys, configuration and the command line: lowercase names.</summary>
public static class RoleNames
{
    /// <summary>Every role's name, for error messages.</summary>
    public const string Known = "viewer, predictor, deployer, admin";

    /// <summary>The lowercase name of a role.</summary>
    public static string Of(Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Predictor => "predictor",
        Role.Deployer => "deployer",
        Role.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "not a role"),
    };

    /// <summary>Parses a role name (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? text, out Role role)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "viewer":
                role = Role.Viewer;
                return true;
            case "predictor":
                role = Role.Predictor;
                return true;
            case "deployer":
                role = Role.Deployer;
                return true;
            case "admin":
                role = Role.Admin;
                return true;
            default:
                role = default;
                return false;
        }
    }

    /// <summary>Roles as one comma-separated string, in role order (how the registry stores them).</summary>
    public static string Join(IEnumerable<Role> roles) => string.Join(",", roles.Distinct().Order().Select(Of));

    /// <summary>Reads <see cref="Join"/>'s format back; unknown names are an error, never silently dropped.</summary>
    public static IReadOnlySet<Role> Split(string text)
    {
        var roles = new HashSet<Role>();
        foreach (string name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            roles.Add(TryParse(name, out Role role) ? role : throw new FormatException($"unknown role '{name}' (known: {Known})"));
        }

        return roles;
    }
}
