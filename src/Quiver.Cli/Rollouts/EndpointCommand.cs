using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Rollouts;

/// <summary><c>quiver endpoint</c>: endpoints split between variants, with an optional A/B test and shadow, through <c>/v2/admin/endpoints</c>.</summary>
public static class EndpointCommand
{
    /// <summary>The metrics an experiment can measure.</summary>
    public static readonly string[] Metrics = ["binary", "numeric"];

    /// <summary>The command group with set, show, list and remove.</summary>
    public static Command Create()
    {
        var options = new AdminOptions();
        var command = new Command("endpoint", "Define endpoints: a name clients use as a model name, split by weight between model versions, with an optional A/B test and shadow.")
        {
            options.Server,
            options.Json,
            options.ApiKey,
            Set(options),
            Show(options),
            List(options),
            Remove(options),
        };
        command.Action = AdminAction.MissingSubcommand("endpoint", command, options);
        return command;
    }

    private static Argument<string> Name() => RolloutArguments.Name("NAME", "The endpoint's name, used in place of a model name in /v2/models/NAME/infer.");

    private static Command Set(AdminOptions options)
    {
        Argument<string> name = Name();
        Option<VariantRequest[]> variants = RolloutArguments.Repeated("--variant",
            "A variant: NAME=MODEL:VERSION:WEIGHT (e.g. control=iris:1:50; VERSION a number, an alias, or empty for the model's default). " +
            "Repeat for each; weights sum to 100; the first is an experiment's control.", "NAME=MODEL:VERSION:WEIGHT", RolloutArguments.Variant);
        variants.Required = true;
        var metric = new Option<string?>("--experiment") { Description = "Run an A/B test measuring this metric: binary (conversions) or numeric (a reward).", HelpName = "METRIC" };
        metric.AcceptOnlyFromAmong(Metrics);
        Option<long?> minimumSamples = RolloutArguments.Parsed<long?>("--minimum-samples",
            "The experiment's planned outcomes per variant (at least 2); required with --experiment.", "N",
            text => RolloutArguments.Count("--minimum-samples", text, minimum: 2));
        Option<double?> alpha = RolloutArguments.Parsed<double?>("--alpha", "The experiment's significance level. The server's default is 0.05.", "A",
            text => RolloutArguments.Alpha(text));
        Option<ShadowRequest?> shadow = RolloutArguments.Parsed<ShadowRequest?>("--shadow",
            "Copy PERCENT of the requests to MODEL:VERSION after answering, to compare its outputs (e.g. iris:3:10).", "MODEL:VERSION:PERCENT",
            RolloutArguments.Shadow);

        var command = new Command("set", "Create or replace endpoint NAME. Replacing an endpoint restarts its experiment.")
        {
            name, variants, metric, minimumSamples, alpha, shadow,
        };
        command.Action = new AdminAction("endpoint set", async (run, cancellationToken) =>
        {
            var definition = new EndpointRequest(run.Result.GetValue(variants)!,
                Experiment(run.Result.GetValue(metric), run.Result.GetValue(minimumSamples), run.Result.GetValue(alpha)), run.Result.GetValue(shadow));
            using AdminClient client = run.OpenClient();
            AdminReply<EndpointRecord> reply = await client.SetEndpointAsync(run.Result.GetValue(name)!, definition, cancellationToken);
            run.Write(reply, endpoint => RolloutTables.WriteEndpoint(run.Console, endpoint));
            return 0;
        }, options);
        return command;
    }

    /// <summary>The experiment section from its three options; they only make sense together, so a stray one is a usage error.</summary>
    public static ExperimentRequest? Experiment(string? metric, long? minimumSamples, double? alpha)
    {
        if (metric is null)
        {
            return minimumSamples is null && alpha is null
                ? null
                : throw new UsageException("--minimum-samples and --alpha belong to an experiment: add --experiment binary or --experiment numeric.");
        }

        return minimumSamples is { } samples
            ? new ExperimentRequest(metric, samples, alpha)
            : throw new UsageException("--experiment needs --minimum-samples N, the planned outcomes per variant.");
    }

    private static Command Show(AdminOptions options)
    {
        Argument<string> name = Name();
        var command = new Command("show", "Show an endpoint: its variants with the requests routed to each, and its shadow's agreement and latency.") { name };
        command.Action = new AdminAction("endpoint show", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            run.Write(await client.GetEndpointAsync(run.Result.GetValue(name)!, cancellationToken), endpoint => RolloutTables.WriteEndpoint(run.Console, endpoint));
            return 0;
        }, options);
        return command;
    }

    private static Command List(AdminOptions options)
    {
        var command = new Command("list", "List the endpoints with their variants, experiments and shadows.");
        command.Action = new AdminAction("endpoint list", async (run, cancellationToken) =>
        {
            using AdminClient client = run.OpenClient();
            run.Write(await client.ListEndpointsAsync(cancellationToken), list =>
            {
                if (list.Endpoints.Count == 0)
                {
                    run.Out.WriteLine($"no endpoints at {client.Server}; define one with 'quiver endpoint set NAME --variant NAME=MODEL:VERSION:WEIGHT'.");
                    return;
                }

                run.Console.Write(RolloutTables.Endpoints(list.Endpoints));
            });
            return 0;
        }, options);
        return command;
    }

    private static Command Remove(AdminOptions options)
    {
        Argument<string> name = Name();
        var command = new Command("remove", "Remove endpoint NAME: its name no longer routes requests.") { name };
        command.Action = new AdminAction("endpoint remove", async (run, cancellationToken) =>
        {
            string endpoint = run.Result.GetValue(name)!;
            using AdminClient client = run.OpenClient();
            await client.RemoveEndpointAsync(endpoint, cancellationToken);

            // The server answers with no body, so --json has nothing to print; the exit code says it worked.
            if (!run.Json)
            {
                run.Out.WriteLine($"endpoint '{endpoint}' removed.");
            }

            return 0;
        }, options);
        return command;
    }
}
