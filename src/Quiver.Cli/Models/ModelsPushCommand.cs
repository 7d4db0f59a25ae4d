using System.CommandLine;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Models;

/// <summary><c>quiver models push NAME FILE</c>: uploads an ONNX file as the model's next version.</summary>
public static class ModelsPushCommand
{
    /// <summary>The command, its arguments and options; <paramref name="options"/> are the group's shared --server and --json.</summary>
    public static Command Create(AdminOptions options)
    {
        Argument<string> name = ModelArguments.Name();
        var file = new Argument<string>("FILE") { Description = "The ONNX model file; streamed to the server, never read whole into memory." };
        file.Validators.Add(result =>
        {
            string path = result.GetValueOrDefault<string>();
            if (Directory.Exists(path))
            {
                result.AddError($"FILE '{path}' is a directory; give the .onnx file.");
            }
            else if (!File.Exists(path))
            {
                result.AddError($"FILE '{path}' does not exist.");
            }
        });
        var description = new Option<string?>("--description") { Description = "What this version is.", HelpName = "TEXT" };
        var alias = new Option<string?>("--alias") { Description = "Point this alias (e.g. staging) at the new version.", HelpName = "ALIAS" };
        var config = new Option<string?>("--config") { Description = "The model's config as a JSON file, like a model repository's config.json.", HelpName = "FILE.json" };
        var tags = new Option<string[]>("--tag") { Description = "A tag; repeat the option or separate tags with commas.", HelpName = "T" };
        var sourceUri = new Option<string?>("--source-uri") { Description = "Lineage: where the model came from (e.g. s3://bucket/run/model.onnx).", HelpName = "URI" };
        var trainingRun = new Option<string?>("--training-run") { Description = "Lineage: the id of the training run that produced it.", HelpName = "ID" };
        var force = new Option<bool>("--force") { Description = "Push even if the signature breaks the alias's existing clients." };
        var regions = new Option<string?>("--regions")
        {
            Description = "Data residency: the only regions the version may be loaded and served in, comma-separated (e.g. eu-west-1,eu-central-1); " +
                "servers started with another --region, or none, refuse it. Default: config.json's allowed_regions, else anywhere.",
            HelpName = "R1,R2",
        };
        regions.Validators.Add(result =>
        {
            try
            {
                Core.Lifecycle.DataResidency.ParseList(result.GetValueOrDefault<string?>() ?? "");
            }
            catch (FormatException e)
            {
                result.AddError($"--regions: {e.Message}");
            }
        });

        var optimize = new Option<string?>("--optimize")
        {
            Description = "Also push an optimized copy as the next version, derived from this one with the report attached " +
                "(the alias, if any, goes to it). Nothing is pushed if an accuracy limit fails.",
            HelpName = string.Join("|", OptimizedPush.Modes),
        };
        optimize.AcceptOnlyFromAmong([.. OptimizedPush.Modes]);
        var validation = new Option<string?>("--validation")
        {
            Description = "With --optimize: inputs to compare the models on (JSON lines or .npy, as quiver optimize takes); default generated.",
            HelpName = "FILE",
        };
        var maxAccuracyDrop = new Option<double?>("--max-accuracy-drop")
        {
            Description = "With --optimize: push nothing when more than this fraction of samples change their top-1 class, e.g. 0.01.",
        };
        var maxAbsDiff = new Option<double?>("--max-abs-diff") { Description = "With --optimize: push nothing when any output element moves by more than this." };

        var command = new Command("push", "Upload an ONNX file as the next version of model NAME (created if new). The same file and config twice is one version.")
        {
            name, file, description, alias, config, tags, sourceUri, trainingRun, force, regions, optimize, validation, maxAccuracyDrop, maxAbsDiff,
        };
        command.Action = new AdminAction("models push", async (run, cancellationToken) =>
        {
            string path = run.Result.GetValue(file)!;
            var push = new PushRequest
            {
                Model = run.Result.GetValue(name)!,
                FilePath = path,
                Creator = CliActor.Current,
                Description = run.Result.GetValue(description),
                Alias = run.Result.GetValue(alias),
                Config = run.Result.GetValue(config) is { } configPath ? ConfigFile.Read(configPath) : null,
                Tags = PushRequest.ParseTags(run.Result.GetValue(tags) ?? []),
                SourceUri = run.Result.GetValue(sourceUri),
                TrainingRunId = run.Result.GetValue(trainingRun),
                Force = run.Result.GetValue(force),
                Regions = run.Result.GetValue(regions) is { } list ? Core.Lifecycle.DataResidency.ParseList(list) : [],
            };

            if (run.Result.GetValue(optimize) is { } mode)
            {
                double? drop = run.Result.GetValue(maxAccuracyDrop), absDiff = run.Result.GetValue(maxAbsDiff);
                if (drop is < 0 or > 1 || absDiff is < 0)
                {
                    throw new UsageException("--max-accuracy-drop is a fraction between 0 and 1 (e.g. 0.01), --max-abs-diff 0 or more.");
                }

                return await OptimizedPush.RunAsync(run, push, new OptimizedPush.Request(mode, run.Result.GetValue(validation), drop, absDiff), cancellationToken);
            }

            if (run.Result.GetValue(validation) is not null || run.Result.GetValue(maxAccuracyDrop) is not null || run.Result.GetValue(maxAbsDiff) is not null)
            {
                throw new UsageException("--validation, --max-accuracy-drop and --max-abs-diff apply only with --optimize.");
            }

            using AdminClient client = run.OpenClient();
            AdminReply<PushRecord> reply = await client.PushAsync(push, cancellationToken);
            run.Write(reply, pushed =>
            {
                // Warnings on stderr: they matter to a person, and stdout stays the answer.
                foreach (string warning in pushed.Warnings)
                {
                    run.Error.WriteLine($"warning: {warning}");
                }

                foreach (string line in ChangeMessages.Pushed(pushed, path))
                {
                    run.Out.WriteLine(line);
                }
            });
            return 0;
        }, options);
        return command;
    }
}
