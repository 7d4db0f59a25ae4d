using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Rollouts;

/// <summary><c>quiver rollout</c>: canary rollouts of a running server, through <c>/v2/admin/rollouts</c>.</summary>
public static class RolloutCommand
{
    /// <summary>The command group with start, status, list, pause, resume, abort and promote.</summary>
    public static Command Create()
    {
        var options = new AdminOptions();
        var command = new Command("rollout", "Move a model's traffic to a new version step by step, judged on errors and latency, promoted or rolled back automatically.")
        {
            options.Server,
            options.Json,
            options.ApiKey,
            Start(options),
            Status(options),
            List(options),
        };
        foreach (string action in RolloutsApi.Actions)
        {
            command.Subcommands.Add(Act(action, options));
        }

        command.Action = AdminAction.MissingSubcommand("rollout", command, options);
        return command;
    }

    private static Argument<string> Model() => RolloutArguments.Name("MODEL", "The model whose unversioned traffic is rolled out.");

    private static Command Start(AdminOptions options)
    {
        Argument<string> model = Model();
        Option<int> to = RolloutArguments.Parsed("--to", "The candidate version.", "VERSION", RolloutArguments.Version);
        to.Required = true;
        Option<int[]?> steps = RolloutArguments.Parsed<int[]?>("--steps",
            "The candidate's share at each step, in percent, rising to 100. The server's default is 5,25,50,100.", "5,25,50,100", RolloutArguments.Steps);
        Option<double?> interval = RolloutArguments.Parsed<double?>("--interval",
            "How long each step lasts: seconds, or with a unit (120s, 2m, 1h). The server's default is 120 s.", "DURATION", text => RolloutArguments.Interval(text));
        Option<double?> maxErrorRate = RolloutArguments.Parsed<double?>("--max-error-rate",
            "Roll back when the candidate's error rate in a step is above this: 1% or 0.01 (the server's default).", "RATE",
            text => RolloutArguments.Fraction("--max-error-rate", text));
        Option<double?> maxLatencyRatio = RolloutArguments.Parsed<double?>("--max-p99-latency-ratio",
            "Roll back when the candidate's p99 latency is more than this many times the baseline's. The server's default is 1.5.", "RATIO",
            text => RolloutArguments.Positive("--max-p99-latency-ratio", text));
        Option<int?> minimumRequests = RolloutArguments.Parsed<int?>("--minimum-requests",
            "Requests the candidate needs in a step before it is judged; fewer extends the step. The server's default is 20.", "N",
            text => RolloutArguments.Count("--minimum-requests", text, minimum: 1));

        var command = new Command("start", "Start rolling MODEL's unversioned traffic out from the version serving it to VERSION.")
        {
            model, to, steps, interval, maxErrorRate, maxLatencyRatio, minimumRequests,
        };
        command.Action = new AdminAction("rollout start", async (run, cancellationToken) =>
        {
            var start = new RolloutStart
            {
                Model = run.Result.GetValue(model)!,
                To = run.Result.GetValue(to),
                Steps = run.Result.GetValue(steps) is { Length: > 0 } given ? given : null, // absent, an array option reads as empty
                IntervalSeconds = run.Result.GetValue(interval),
                MaxErrorRate = run.Result.GetValue(maxErrorRate),
                MaxP99LatencyRatio = run.Result.GetValue(maxLatencyRatio),
                MinimumRequests = run.Result.GetValue(minimumRequests),
            };
            using AdminClient client = run.OpenClient();
            AdminReply<RolloutReply> reply = await client.StartRolloutAsync(start, cancellationToken);
            run.Write(reply, started =>
            {
                run.Out.WriteLine(RolloutTables.Summary(started.Rollout, started.CandidateWeight));
                run.Out.WriteLine(RolloutTables.Settings(started.Rollout));
                run.Out.WriteLine($"follow it with 'quiver rollout status {started.Rollout.Model}'.");
            });
            return 0;
        }, options);
        return command;
    }

    private static Command Status(AdminOptions options)
    {
        Argument<string> model = Model();
        var command = new Command("status", "Show a model's rollout: its state and step, this step's figures for both versions, and every decision with its reason.")
        {
            model,
        };
        command.Action = new AdminAction("rollout status", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            run.Write(await client.GetRolloutAsync(run.Result.GetValue(model)!, cancellationToken), rollout => RolloutTables.WriteStatus(run.Console, rollout));
            return 0;
        }, options);
        return command;
    }

    private static Command List(AdminOptions options)
    {
        var command = new Command("list", "List every model's latest rollout, running or finished.");
        command.Action = new AdminAction("rollout list", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            run.Write(await client.ListRolloutsAsync(cancellationToken), list =>
            {
                if (list.Rollouts.Count == 0)
                {
                    run.Out.WriteLine($"no rollouts at {client.Server}; start one with 'quiver rollout start MODEL --to VERSION'.");
                    return;
                }

                run.Console.Write(RolloutTables.Rollouts(list.Rollouts));
            });
            return 0;
        }, options);
        return command;
    }

    private static Command Act(string action, AdminOptions options)
    {
        string description = action switch
        {
            "pause" => "Hold the rollout at its current split; the controller stops judging until resume.",
            "resume" => "Resume a paused rollout; its step starts afresh, driven by the server that answers.",
            "abort" => "Stop the rollout and send all of the model's traffic back to the baseline.",
            _ => "Finish the rollout now: the candidate becomes the model's production version.",
        };
        Argument<string> model = Model();
        var command = new Command(action, description) { model };
        command.Action = new AdminAction("rollout " + action, async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            AdminReply<RolloutReply> reply = await client.ActOnRolloutAsync(run.Result.GetValue(model)!, action, cancellationToken);
            run.Write(reply, rollout => run.Out.WriteLine(RolloutTables.Summary(rollout.Rollout, rollout.CandidateWeight)));
            return 0;
        }, options);
        return command;
    }
}
