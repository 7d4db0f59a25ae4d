using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Rollouts;

/// <summary><c>quiver experiment</c>: the A/B tests endpoints run, through <c>/v2/admin/experiments</c>.</summary>
public static class ExperimentCommand
{
    /// <summary>The command group with status and conclude.</summary>
    public static Command Create()
    {
        var options = new AdminOptions();
        var command = new Command("experiment", "Read an endpoint's A/B test (counts, means, intervals, tests, decision) and conclude it.")
        {
            options.Server,
            options.Json,
            options.ApiKey,
            Status(options),
            Conclude(options),
        };
        command.Action = AdminAction.MissingSubcommand("experiment", command, options);
        return command;
    }

    private static Argument<string> Endpoint() => RolloutArguments.Name("ENDPOINT", "The endpoint running the experiment.");

    private static Command Status(AdminOptions options)
    {
        Argument<string> endpoint = Endpoint();
        var command = new Command("status",
            "Show the decision (continue, winner, no difference) with its reason, each variant's outcomes, and each treatment against the control.")
        {
            endpoint,
        };
        command.Action = new AdminAction("experiment status", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            run.Write(await client.GetExperimentAsync(run.Result.GetValue(endpoint)!, cancellationToken),
                experiment => RolloutTables.WriteExperiment(run.Console, experiment));
            return 0;
        }, options);
        return command;
    }

    private static Command Conclude(AdminOptions options)
    {
        Argument<string> endpoint = Endpoint();
        var winner = new Option<string?>("--winner") { Description = "The variant to keep; by default the experiment's own winner.", HelpName = "NAME" };
        winner.Validators.Add(result =>
        {
            if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string?>()))
            {
                result.AddError("--winner must name a variant.");
            }
        });
        var command = new Command("conclude",
            "End the experiment: all of the endpoint's traffic goes to the winner, and a winner with a version number becomes its model's production.")
        {
            endpoint, winner,
        };
        command.Action = new AdminAction("experiment conclude", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<ConcludedRecord> reply = await client.ConcludeExperimentAsync(run.Result.GetValue(endpoint)!, run.Result.GetValue(winner), cancellationToken);
            run.Write(reply, concluded => run.Out.WriteLine(RolloutTables.Concluded(concluded)));
            return 0;
        }, options);
        return command;
    }
}
