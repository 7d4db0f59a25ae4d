using System.CommandLine;

namespace Quiver.Cli.Bench;

/// <summary><c>quiver bench models</c>: writes the bench models as a model repository.</summary>
public static class BenchModelsCommand
{
    /// <summary>The command and its --output option.</summary>
    public static Command Create()
    {
        var output = new Option<string>("--output")
        {
            Description = "Directory to write the repository to (created if missing): <model>/1/model.onnx and <model>/config.json.",
            Required = true,
        };
        var command = new Command("models", "Write bench_small, bench_wide, bench_heavy and bench_transformer (fixed seeds) as a Triton-layout model repository.") { output };
        command.SetAction((result, _) => BenchCommand.GuardAsync("models", () =>
        {
            string directory = result.GetValue(output)!;
            IReadOnlyList<string> written;
            try
            {
                written = BenchModels.WriteRepository(directory);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new BenchException($"cannot write to '{directory}': {e.Message}");
            }

            foreach (BenchModel model in BenchModels.All)
            {
                Console.WriteLine($"{model.Name}: {model.Description} (seed {model.Seed})");
            }

            Console.WriteLine($"wrote {written.Count} models to {Path.GetFullPath(directory)}");
            return Task.FromResult(0);
        }));
        return command;
    }
}
