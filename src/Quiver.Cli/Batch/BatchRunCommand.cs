using System.CommandLine;
using Quiver.Core.Batch;
using Quiver.Core.Security;
using Quiver.Onnx;
using Quiver.Server;

namespace Quiver.Cli.Batch;

/// <summary><c>quiver batch run</c>: the options, turned into <see cref="BatchOptions"/> in one place.</summary>
public static class BatchRunCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "The model: a .onnx file; NAME[:VERSION] in --model-repository (the latest version without one); " +
                "or NAME[:VERSION|@ALIAS] in the registry of --data-dir or --registry (the production alias, else the latest).",
            Required = true,
        };
        var repository = new Option<string>("--model-repository")
        {
            Description = "Model repository in Triton's layout (<model>/<version>/model.onnx) for --model NAME.",
            DefaultValueFactory = _ => new QuiverServerOptions().ModelRepository,
        };
        var registry = new Option<string?>("--registry")
        {
            Description = "Take --model NAME[:VERSION|@ALIAS] from this registry: a SQLite file or postgres://user:pass@host:port/db.",
        };
        var dataDir = new Option<string?>("--data-dir")
        {
            Description = "A server's data directory: its registry (registry.db unless --registry) and artifacts. Defaults to .quiver for NAME@ALIAS.",
        };
        var masterKeyFile = new Option<string?>("--master-key-file")
        {
            Description = "Master key that decrypts registry artifacts encrypted at rest; QUIVER_MASTER_KEY works too.",
        };
        var pseudonymKey = new Option<string?>("--pseudonym-key")
        {
            Description = "A server's pseudonym key (<data-dir>/pseudonym.key): a rejected row's sensitive cell (the model's config.json " +
                "\"sensitive_inputs\") is written to the error file as the same pseudonym the server writes. Without it, the value is left out.",
            HelpName = "FILE",
        };
        var input = new Option<string>("--input", "-i") { Description = "Input file: CSV with a header (.csv, .tsv), JSON lines (.jsonl), or .npy (one 2-D float32 tensor).", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output file: JSON lines, or CSV for a .csv name. Each row starts with its input row index.", Required = true };
        var errors = new Option<string?>("--errors") { Description = "Where rejected rows go, with line and reason. Defaults to OUTPUT.errors.jsonl." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "The checkpoint file. Defaults to OUTPUT.checkpoint.json." };
        var inputFormat = new Option<string?>("--input-format") { Description = "csv, jsonl or npy, when the extension does not say." };
        var outputFormat = new Option<string?>("--output-format") { Description = "jsonl or csv, when the extension does not say." };
        var delimiter = new Option<string?>("--delimiter") { Description = "CSV field delimiter: one character, or 'tab'. Defaults to ',' (tab for .tsv)." };
        var map = new Option<string[]>("--map")
        {
            Description = "Which columns fill an input, in feature order: INPUT=COL1,COL2,… (repeat per input). " +
                "Default: columns named after the inputs, or all columns in order for a model with one input.",
        };
        var batchSize = new Option<int>("--batch-size") { Description = "Rows per model run.", DefaultValueFactory = _ => 256 };
        var threads = new Option<int>("--threads")
        {
            Description = "Threads for ONNX Runtime (intra-op) and for parsing rows.",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var maxErrors = new Option<long?>("--max-errors")
        {
            Description = "Rejected rows allowed: beyond it the job aborts (exit 1); within it, it succeeds (exit 0). " +
                "Without it, any rejected row makes the exit code 3.",
        };
        var shard = new Option<string?>("--shard") { Description = "Process only shard K of N (K from 0): rows whose index mod N is K, e.g. 0/4." };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint of an interrupted run of the same job (starts fresh when there is none)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing output, error file and checkpoint." };
        var rate = new Option<double?>("--rate") { Description = "At most this many rows per second (to share the machine). Default: as fast as it goes." };
        var interval = new Option<string>("--checkpoint-interval") { Description = "Time between checkpoints (500ms, 5s, 1m).", DefaultValueFactory = _ => "5s" };

        var command = new Command("run", "Run every row of a file through a model, writing one result row per input row.")
        {
            model, repository, registry, dataDir, masterKeyFile, pseudonymKey, input, output, errors, checkpoint, inputFormat, outputFormat, delimiter, map, batchSize, threads,
            maxErrors, shard, resume, overwrite, interval, rate,
        };
        command.Action = new BatchAction("batch run", async (result, cancellationToken) =>
        {
            int threadCount = result.GetValue(threads);
            var options = new BatchOptions
            {
                InputPath = result.GetValue(input)!,
                OutputPath = result.GetValue(output)!,
                ErrorsPath = result.GetValue(errors),
                CheckpointPath = result.GetValue(checkpoint),
                InputFormat = result.GetValue(inputFormat) is { } inFormat
                    ? BatchFormats.ParseInput(inFormat) ?? throw Usage($"--input-format '{inFormat}' is not csv, jsonl or npy.")
                    : null,
                OutputFormat = result.GetValue(outputFormat) is { } outFormat
                    ? BatchFormats.ParseOutput(outFormat) ?? throw Usage($"--output-format '{outFormat}' is not jsonl or csv.")
                    : null,
                Delimiter = Delimiter(result.GetValue(delimiter)),
                Mapping = Mapping(result.GetValue(map) ?? []),
                BatchSize = result.GetValue(batchSize),
                ParseThreads = threadCount,
                MaxErrors = result.GetValue(maxErrors),
                Shard = result.GetValue(shard) is { } spec ? ShardSpec.Parse(spec) : ShardSpec.All,
                Resume = result.GetValue(resume),
                Overwrite = result.GetValue(overwrite),
                CheckpointInterval = Duration(result.GetValue(interval)!),
                RowsPerSecondLimit = result.GetValue(rate),
            };
            options.Validate();
            if (threadCount < 1)
            {
                throw Usage($"--threads must be at least 1, got {threadCount}.");
            }

            Pseudonymizer? pseudonymizer = result.GetValue(pseudonymKey) is { } keyFile ? ReadPseudonymKey(keyFile) : null;
            BatchModel found = await FindModelAsync(result.GetValue(model)!, result.GetValue(repository), result.GetValue(registry),
                result.GetValue(dataDir), result.GetValue(masterKeyFile), cancellationToken);
            if (found.SensitiveInputs.Count > 0)
            {
                options = options with { Privacy = new SensitiveValues(found.SensitiveInputs, [], pseudonymizer) };
            }

            TextWriter stdout = result.InvocationConfiguration.Output;
            BatchResult outcome = await BatchRunView.RunAsync(options, found, new SessionSettings { IntraOpThreads = threadCount },
                stdout, cancellationToken);
            BatchRunView.WriteSummary(stdout, outcome);
            if (outcome.RowsFailed > 0)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync(
                    $"warning: {outcome.RowsFailed} row(s) rejected; reasons in '{outcome.ErrorsPath}'.");
                // With --max-errors the user set a budget for rejected rows; within it, the job succeeded.
                return options.MaxErrors is null ? BatchAction.DoneWithRejectedRows : BatchAction.Done;
            }

            return BatchAction.Done;
        });
        return command;
    }

    private static BatchException Usage(string message) => new(BatchErrorKind.Usage, message);

    // Read, never created: a new random key would give pseudonyms matching nothing the server wrote.
    private static Pseudonymizer ReadPseudonymKey(string path)
    {
        try
        {
            return new Pseudonymizer(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Usage($"--pseudonym-key '{path}' cannot be read: {e.Message}");
        }
        catch (ArgumentException)
        {
            throw Usage($"--pseudonym-key '{path}' is not a pseudonym key: a server's <data-dir>/{QuiverServer.PseudonymKeyFileName} holds {Pseudonymizer.KeyBytes} bytes.");
        }
    }

    // A file is a file; a name is looked up in the registry when one is named (or an alias asks for one), else in the repository.
    private static async Task<BatchModel> FindModelAsync(string model, string? repository, string? registry, string? dataDir,
        string? masterKeyFile, CancellationToken cancellationToken)
    {
        bool isFile = model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || File.Exists(model);
        if (isFile || (registry is null && dataDir is null && !model.Contains('@', StringComparison.Ordinal)))
        {
            return BatchModel.Locate(model, repository);
        }

        string data = dataDir ?? new QuiverServerOptions().DataDirectory;
        Func<Core.Storage.MasterKey?> loadKey = masterKeyFile is not null
            ? () => Core.Storage.MasterKey.FromFile(masterKeyFile)
            : () => Environment.GetEnvironmentVariable(Core.Storage.MasterKey.DefaultEnvironmentVariable) is { Length: > 0 }
                ? Core.Storage.MasterKey.FromEnvironment()
                : null;
        return await RegistryModels.LoadAsync(model, registry ?? Path.Combine(data, Core.Registry.ModelRegistry.DefaultFileName),
            Path.Combine(data, "artifacts"), loadKey, cancellationToken);
    }

    private static char? Delimiter(string? text) => text switch
    {
        null => null,
        "tab" or "\\t" or "\t" => '\t',
        { Length: 1 } => text[0],
        _ => throw Usage($"--delimiter '{text}' must be one character, or 'tab'."),
    };

    private static Dictionary<string, string[]> Mapping(string[] entries)
    {
        var mapping = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string entry in entries)
        {
            int equals = entry.IndexOf('=');
            if (equals <= 0 || equals == entry.Length - 1)
            {
                throw Usage($"--map '{entry}' is not INPUT=COL1,COL2,….");
            }

            string name = entry[..equals];
            if (!mapping.TryAdd(name, entry[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries)))
            {
                throw Usage($"--map names input '{name}' twice.");
            }
        }

        return mapping;
    }

    private static TimeSpan Duration(string text)
    {
        try
        {
            return Bench.ArgumentValues.Duration(text, "--checkpoint-interval");
        }
        catch (Bench.BenchException e)
        {
            throw Usage(e.Message);
        }
    }
}
