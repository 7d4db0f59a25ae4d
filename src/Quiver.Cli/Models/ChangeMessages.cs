using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary>The one-line answers of the commands that change something.</summary>
public static class ChangeMessages
{
    /// <summary>alias set and promote: "iris: production → 3 (was 2)".</summary>
    public static string AliasMoved(AliasRecord change) =>
        $"{change.Model}: {change.Alias} → {Display.Number(change.Version)} ({Was(change.PreviousVersion)})";

    /// <summary>alias remove: "iris: staging removed (was 2)".</summary>
    public static string AliasRemoved(AliasRecord change) => $"{change.Model}: {change.Alias} removed ({Was(change.PreviousVersion)})";

    /// <summary>rollback: "iris: production rolled back to 2 (was 3)".</summary>
    public static string RolledBack(AliasRecord change) =>
        $"{change.Model}: {change.Alias} rolled back to {Display.Number(change.Version)} ({Was(change.PreviousVersion)})";

    /// <summary>retire: "iris version 1: retired (reason)".</summary>
    public static string Retired(string model, VersionRecord version) =>
        $"{model} version {Display.Number(version.Version)}: {Display.State(version.State, version.Reason)}";

    /// <summary>push: the version, and whether it is new.</summary>
    public static IEnumerable<string> Pushed(PushRecord push, string file)
    {
        string artifact = $"sha256 {Display.ShortSha(push.Sha256)}, {Display.Size(push.SizeBytes)}";
        if (push.Existing)
        {
            yield return $"{push.Model} version {push.Version} already holds this artifact and config ({artifact}); nothing was added.";
        }
        else
        {
            yield return $"pushed {file} as {push.Model} version {push.Version} ({artifact})" + (push.State is null ? "" : $", {push.State}");
            if (push.AlreadyStored)
            {
                yield return "the artifact was already stored (same sha256): no second copy was written.";
            }
        }

        if (push.Alias is not null)
        {
            yield return $"{push.Model}: {push.Alias} → {push.Version}";
        }

        if (push.SignatureChanges.Count > 0)
        {
            yield return "signature changes:";
            foreach (string change in push.SignatureChanges)
            {
                yield return "  " + change;
            }
        }
    }

    private static string Was(int? previous) => previous is null ? "was unset" : $"was {Display.Number(previous)}";
}
