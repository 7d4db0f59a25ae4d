using System.CommandLine;
using System.Globalization;
using Quiver.Cli.Bench;
using Quiver.Onnx;
using Quiver.Onnx.Optimization;
using Spectre.Console;

namespace Quiver.Cli.Optimize;

/// <summary><c>quiver optimize MODEL -o OUT</c>: rewrites a model for faster inference and reports what moved.</summary>
public static class OptimizeCommand
{
    /// <summary>The command and its options.</summary>
    public static Command Create()
    {
        var model = new Argument<string>("MODEL") { Description = "The ONNX model to optimize." };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the optimized model (not the input file).", Required = true };
        var int8Dynamic = new Option<bool>("--int8-dynamic")
        {
            Description = "Quantize MatMul/Gemm weights to int8; activations are quantized at run time (DynamicQuantizeLinear + MatMulInteger).",
        };
        var perChannel = new Option<bool>("--per-channel") { Description = "One weight scale per output channel instead of per tensor." };
        var symmetric = new Option<bool>("--symmetric") { Description = "Symmetric int8 weights, zero point 0 (the default)." };
        var asymmetric = new Option<bool>("--asymmetric") { Description = "Asymmetric int8 weights with a zero point fitted to [min, max]." };
        var reduceRange = new Option<bool>("--reduce-range")
        {
            Description = "7-bit weights, for x86 CPUs without VNNI (AVX2 only) where int8 products can saturate. Default: on when this CPU is one.",
        };
        var fullRange = new Option<bool>("--full-range") { Description = "8-bit weights even on a CPU without VNNI (for a model that will run where VNNI is)." };
        var excludeNodes = new Option<string?>("--exclude-nodes") { Description = "Node names to leave in float, comma-separated." };
        var excludeOps = new Option<string?>("--exclude-ops") { Description = "Op types to leave in float, comma-separated (MatMul, Gemm)." };
        var int8Static = new Option<bool>("--int8-static")
        {
            Description = "Quantize MatMul/Gemm weights and their inputs to int8 with ranges calibrated on --calibration data (QuantizeLinear/DequantizeLinear).",
        };
        var calibration = new Option<string?>("--calibration") { Description = "With --int8-static: representative inputs, in the --validation formats." };
        var calibrationMethod = new Option<string>("--calibration-method")
        {
            Description = "With --int8-static: minmax (every value fits) or percentile (rare extremes are clipped).",
            DefaultValueFactory = _ => "minmax",
        };
        var percentile = new Option<double>("--percentile") { Description = "With --calibration-method percentile: the upper percentile kept.", DefaultValueFactory = _ => 99.99 };
        var fp16 = new Option<bool>("--fp16") { Description = "Convert float32 weights and compute to float16 (for GPUs); inputs and outputs stay float32." };
        var keepOps = new Option<string?>("--keep-float32-ops")
        {
            Description = $"With --fp16: op types kept in float32, comma-separated, or 'none'. Default: {string.Join(",", Fp16Options.DefaultBlockedOpTypes.Order(StringComparer.Ordinal))}.",
        };
        var keepNodes = new Option<string?>("--keep-float32-nodes") { Description = "With --fp16: node names kept in float32, comma-separated." };
        var graph = new Option<string?>("--graph")
        {
            Description = "Run ONNX Runtime's graph optimizations offline and save the result: basic (constant folding, redundant nodes), extended (+ fusions), all (+ layout for this CPU).",
        };
        var validation = new Option<string?>("--validation")
        {
            Description = "Inputs to compare on: JSON lines (one sample per line, {\"input\": [...]}) or a .npy array [samples, ...]. Default: generated.",
        };
        var samples = new Option<int>("--samples") { Description = "Samples to generate, or the most to read from --validation.", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of generated inputs.", DefaultValueFactory = _ => 42 };
        var maxAccuracyDrop = new Option<double?>("--max-accuracy-drop")
        {
            Description = "Fail (exit 2, nothing written) when more than this fraction of samples change their top-1 class, e.g. 0.01.",
        };
        var maxAbsDiff = new Option<double?>("--max-abs-diff") { Description = "Fail (exit 2, nothing written) when any output element moves by more than this." };
        var report = new Option<string?>("--report") { Description = "Write the report as JSON to this file." };
        var benchBatch = new Option<string>("--bench-batch") { Description = "Batch sizes to measure speed at, comma-separated.", DefaultValueFactory = _ => "1,32" };
        var benchDuration = new Option<string>("--bench-duration") { Description = "Measured time per model and batch size (500ms, 3s).", DefaultValueFactory = _ => "3s" };
        var noBench = new Option<bool>("--no-bench") { Description = "Skip the speed measurement." };
        var threads = new Option<int>("--threads") { Description = "ONNX Runtime intra-op threads per session; 0 lets it choose.", DefaultValueFactory = _ => 0 };

        var command = new Command("optimize", "Rewrite an ONNX model for faster inference (int8 dynamic or static quantization, float16, ONNX Runtime graph optimization) and report accuracy and speed before and after.")
        {
            model, output, int8Dynamic, int8Static, calibration, calibrationMethod, percentile, fp16, graph, keepOps, keepNodes, perChannel, symmetric, asymmetric, reduceRange, fullRange, excludeNodes, excludeOps,
            validation, samples, seed, maxAccuracyDrop, maxAbsDiff, report, benchBatch, benchDuration, noBench, threads,
        };
        command.SetAction((result, cancellationToken) => GuardAsync(async () =>
        {
            var errors = new List<string>();
            string modelPath = result.GetValue(model)!, outputPath = result.GetValue(output)!;
            string? reportPath = result.GetValue(report);
            CheckPaths(modelPath, outputPath, reportPath, errors);

            bool isDynamic = result.GetValue(int8Dynamic), isStatic = result.GetValue(int8Static), isFp16 = result.GetValue(fp16);
            bool isInt8 = isDynamic || isStatic;
            string? graphLevel = result.GetValue(graph);
            int modes = (isDynamic ? 1 : 0) + (isStatic ? 1 : 0) + (isFp16 ? 1 : 0) + (graphLevel is null ? 0 : 1);
            if (modes != 1)
            {
                errors.Add($"choose exactly one of --int8-dynamic, --int8-static, --fp16 and --graph LEVEL{(modes == 0 ? "" : ", not several")}.");
            }

            string? calibrationPath = result.GetValue(calibration);
            if (isStatic && calibrationPath is null)
            {
                errors.Add("--int8-static needs --calibration FILE: representative inputs to measure activation ranges on.");
            }

            if (!isStatic && (calibrationPath is not null || result.GetResult(calibrationMethod) is { Implicit: false } || result.GetResult(percentile) is { Implicit: false }))
            {
                errors.Add("--calibration, --calibration-method and --percentile apply only to --int8-static.");
            }

            CalibrationMethod method = result.GetValue(calibrationMethod) switch
            {
                "minmax" => CalibrationMethod.MinMax,
                "percentile" => CalibrationMethod.Percentile,
                var other => InvalidMethod($"--calibration-method '{other}' is not a method; use minmax or percentile.", errors),
            };
            Check(result.GetValue(percentile) is > 50 and <= 100, "--percentile must be above 50 and at most 100, e.g. 99.99.", errors);

            GraphOptimizationLevel level = graphLevel switch
            {
                null or "extended" => GraphOptimizationLevel.Extended,
                "basic" => GraphOptimizationLevel.Basic,
                "all" => GraphOptimizationLevel.All,
                _ => Invalid($"--graph '{graphLevel}' is not a level; use basic, extended or all.", errors),
            };

            string[] int8Only = [.. new[] { (perChannel, "--per-channel"), (symmetric, "--symmetric"), (asymmetric, "--asymmetric"), (reduceRange, "--reduce-range"), (fullRange, "--full-range") }
                .Where(o => result.GetValue(o.Item1)).Select(o => o.Item2)];
            if (!isInt8 && (int8Only.Length > 0 || result.GetValue(excludeNodes) is not null || result.GetValue(excludeOps) is not null))
            {
                errors.Add("--per-channel, --symmetric, --asymmetric, --reduce-range, --full-range, --exclude-nodes and --exclude-ops apply only to --int8-dynamic and --int8-static.");
            }

            if (!isFp16 && (result.GetValue(keepOps) is not null || result.GetValue(keepNodes) is not null))
            {
                errors.Add("--keep-float32-ops and --keep-float32-nodes apply only to --fp16.");
            }

            if (result.GetValue(symmetric) && result.GetValue(asymmetric))
            {
                errors.Add("--symmetric and --asymmetric cannot be used together.");
            }

            if (result.GetValue(reduceRange) && result.GetValue(fullRange))
            {
                errors.Add("--reduce-range and --full-range cannot be used together.");
            }

            string[] excludedOps = List(result.GetValue(excludeOps));
            foreach (string op in excludedOps.Where(o => !DynamicQuantizationOptions.QuantizableOpTypes.Contains(o)))
            {
                errors.Add($"--exclude-ops '{op}' is not an op type quantization rewrites; those are {string.Join(", ", DynamicQuantizationOptions.QuantizableOpTypes)}.");
            }

            Check(result.GetValue(samples) >= 1, "--samples must be at least 1.", errors);
            Check(result.GetValue(threads) >= 0, "--threads must be 0 or more.", errors);
            Check(result.GetValue(maxAccuracyDrop) is null or (>= 0 and <= 1), "--max-accuracy-drop is a fraction between 0 and 1, e.g. 0.01 for 1%.", errors);
            Check(result.GetValue(maxAbsDiff) is null or >= 0, "--max-abs-diff must be 0 or more.", errors);
            int[] batches = Parse(() => ArgumentValues.PositiveIntegers(result.GetValue(benchBatch)!, "--bench-batch"), errors) ?? [];
            TimeSpan duration = Parse(() => ArgumentValues.Duration(result.GetValue(benchDuration)!, "--bench-duration"), errors);
            if (errors.Count > 0)
            {
                throw new OptimizeException(string.Join(Environment.NewLine + "  ", errors));
            }

            var settings = new OptimizeSettings
            {
                ModelPath = modelPath,
                OutputPath = outputPath,
                Mode = isFp16 ? OptimizeMode.Fp16 : graphLevel is not null ? OptimizeMode.Graph : isStatic ? OptimizeMode.Int8Static : OptimizeMode.Int8Dynamic,
                CalibrationPath = calibrationPath,
                CalibrationMethod = method,
                Percentile = result.GetValue(percentile),
                GraphLevel = level,
                Quantization = new DynamicQuantizationOptions
                {
                    PerChannel = result.GetValue(perChannel),
                    Symmetric = !result.GetValue(asymmetric),
                    ReduceRange = result.GetValue(reduceRange) || (!result.GetValue(fullRange) && Int8Cpu.ProductsSaturate),
                    ExcludeNodes = List(result.GetValue(excludeNodes)),
                    ExcludeOpTypes = excludedOps,
                },
                Fp16 = new Fp16Options
                {
                    BlockedOpTypes = result.GetValue(keepOps) is { } ops
                        ? (ops.Trim() == "none" ? [] : List(ops))
                        : Fp16Options.DefaultBlockedOpTypes,
                    BlockedNodes = List(result.GetValue(keepNodes)),
                },
                ValidationPath = result.GetValue(validation),
                Samples = result.GetValue(samples),
                Seed = result.GetValue(seed),
                MaxAccuracyDrop = result.GetValue(maxAccuracyDrop),
                MaxAbsDiff = result.GetValue(maxAbsDiff),
                ReportPath = reportPath,
                BenchBatches = batches,
                BenchDuration = duration,
                Bench = !result.GetValue(noBench),
                Threads = result.GetValue(threads),
            };
            // The runs are CPU-bound and long; a dedicated thread keeps them off the thread pool.
            return await Task.Factory.StartNew(() => OptimizeRunner.Run(settings, AnsiConsole.Console, Console.Error, cancellationToken),
                cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }));
        return command;
    }

    /// <summary>Runs the action, turning the user's mistakes into one message on stderr and exit code 1.</summary>
    public static async Task<int> GuardAsync(Func<Task<int>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is OptimizeException or BenchException)
        {
            await Console.Error.WriteLineAsync($"quiver optimize: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("quiver optimize: cancelled; nothing was written.");
            return 130;
        }
    }

    private static void CheckPaths(string modelPath, string outputPath, string? reportPath, List<string> errors)
    {
        if (!File.Exists(modelPath))
        {
            errors.Add($"'{modelPath}' does not exist.");
            return;
        }

        string input = Resolve(modelPath);
        if (Resolve(outputPath) == input)
        {
            errors.Add($"--output '{outputPath}' is the input model; write the optimized model to a new file.");
        }

        if (reportPath is not null && (Resolve(reportPath) == input || Resolve(reportPath) == Resolve(outputPath)))
        {
            errors.Add($"--report '{reportPath}' would overwrite a model; choose another file.");
        }
    }

    // The full path with symbolic links followed, so "a.onnx", "./a.onnx" and a link to it compare equal.
    private static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            return File.Exists(full) && new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target ? target.FullName : full;
        }
        catch (IOException)
        {
            return full;
        }
    }

    private static string[] List(string? text) =>
        text is null ? [] : text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static CalibrationMethod InvalidMethod(string error, List<string> errors)
    {
        errors.Add(error);
        return CalibrationMethod.MinMax;
    }

    private static GraphOptimizationLevel Invalid(string error, List<string> errors)
    {
        errors.Add(error);
        return GraphOptimizationLevel.Extended;
    }

    private static void Check(bool condition, string error, List<string> errors)
    {
        if (!condition)
        {
            errors.Add(error);
        }
    }

    private static T? Parse<T>(Func<T> parse, List<string> errors)
    {
        try
        {
            return parse();
        }
        catch (BenchException e)
        {
            errors.Add(e.Message);
            return default;
        }
    }
}
