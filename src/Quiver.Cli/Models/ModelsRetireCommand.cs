using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models retire NAME VERSION [--reason TEXT]</c>: takes a version out of service for good.</summary>
public static class ModelsRetireCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        Argument<int> version = ModelArguments.Version("The version to retire.");
        var reason = new Option<string?>("--reason") { Description = "Why, recorded with the version.", HelpName = "TEXT" };
        var command = new Command("retire", "Mark VERSION retired, with an optional reason; its record stays in the registry.") { name, version, reason };
        command.Action = new AdminAction("models retire", async (run, cancellationToken) =>
        {
            string model = run.Result.GetValue(name)!;
            using AdminClient client = run.OpenClient();
            AdminReply<VersionRecord> reply = await client.RetireAsync(model, run.Result.GetValue(version), run.Result.GetValue(reason), cancellationToken);
            run.Write(reply, retired => run.Out.WriteLine(ChangeMessages.Retired(model, retired)));
            return 0;
        }, options);
        return command;
    }
}
