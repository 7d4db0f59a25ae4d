using Quiver.Onnx;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;
using Quiver.Onnx.Optimization;
using Spectre.Console;

namespace Quiver.Cli.Optimize;

/// <summary>
/// Runs <c>quiver optimize</c>: load, transform, compare, measure, and write the model and report only when every
/// accuracy limit holds. Exit codes: 0 written, 1 a problem with the input or arguments, 2 an accuracy limit exceeded
/// (nothing written).
/// </summary>
public static class OptimizeRunner
{
    /// <summary>Exit code when an accuracy limit is exceeded.</summary>
    public const int LimitExceeded = 2;

    public static int Run(OptimizeSettings settings, IAnsiConsole console, TextWriter error, CancellationToken cancellationToken)
    {
        byte[] originalBytes = ReadModel(settings.ModelPath, out ModelProto original);
        IReadOnlyList<Sample>? calibration = null;
        Candidate candidate = Transform(settings, original, originalBytes, ref calibration);
        var warnings = new List<string>(candidate.Result.Warnings);

        AccuracyReport? accuracy = null;
        SpeedReport? speed = null;
        if (!candidate.Result.IsChanged)
        {
            string reason = candidate.Result.Skipped.Count > 0
                ? $"none of its {candidate.Result.Skipped.Count} candidate node(s) could be rewritten"
                : settings.Mode == OptimizeMode.Fp16
                ? "the model computes nothing in float32"
                : settings.Mode == OptimizeMode.Graph
                ? "ONNX Runtime found nothing to fold or fuse"
                : $"the model has no {string.Join(" or ", DynamicQuantizationOptions.QuantizableOpTypes)} node to rewrite";
            warnings.Add($"nothing to optimize: {reason}; the model is written unchanged.");
        }
        else
        {
            (accuracy, speed) = Measure(settings, originalBytes, candidate.Bytes, calibration, cancellationToken);
        }

        LimitReport limits = CheckLimits(settings, accuracy);
        var report = new OptimizeReport(OptimizeReport.CurrentSchema, ModeName(settings), OptionsOf(settings),
            settings.ModelPath, originalBytes.Length, settings.OutputPath, candidate.Bytes.Length,
            (double)candidate.Bytes.Length / originalBytes.Length, limits.Passed,
            candidate.Result.Changed, candidate.Result.Skipped, warnings, accuracy, limits, speed);

        OptimizeReportWriter.Write(report, console);
        foreach (string warning in warnings)
        {
            error.WriteLine($"quiver optimize: warning: {warning}");
        }

        if (!limits.Passed)
        {
            error.WriteLine($"quiver optimize: {string.Join(" ", limits.Failures)} Nothing was written.");
            return LimitExceeded;
        }

        AtomicFile.Write(settings.OutputPath, candidate.Bytes);
        if (settings.ReportPath is { } reportPath)
        {
            AtomicFile.Write(reportPath, System.Text.Encoding.UTF8.GetBytes(OptimizeReportWriter.ToJson(report) + "\n"));
        }

        console.MarkupLineInterpolated($"wrote {settings.OutputPath}{(settings.ReportPath is null ? "" : " and " + settings.ReportPath)}");
        return 0;
    }

    private static byte[] ReadModel(string path, out ModelProto model)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new OptimizeException($"cannot read '{path}': {e.Message}");
        }

        try
        {
            model = OnnxModel.Load(bytes, path);
        }
        catch (OnnxModelFormatException e)
        {
            throw new OptimizeException(e.Message);
        }

        return bytes;
    }

    private static Candidate Transform(OptimizeSettings settings, ModelProto original, byte[] originalBytes, ref IReadOnlyList<Sample>? calibration)
    {
        OptimizationResult result;
        try
        {
            if (settings.Mode == OptimizeMode.Int8Static)
            {
                (result, calibration) = QuantizeStatic(settings, original, originalBytes);
                return new Candidate(result, result.IsChanged ? OnnxModel.ToBytes(result.Model) : originalBytes);
            }

            result = settings.Mode switch
            {
                OptimizeMode.Int8Dynamic => DynamicQuantizer.Quantize(original, settings.Quantization),
                OptimizeMode.Fp16 => Fp16Converter.Convert(original, settings.Fp16),
                OptimizeMode.Graph => GraphOptimizer.Optimize(original, settings.GraphLevel),
                _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Mode, null),
            };
        }
        catch (ModelOptimizationException e)
        {
            throw new OptimizeException($"cannot optimize '{settings.ModelPath}': {e.Message}");
        }
        catch (OnnxRuntimeException e)
        {
            throw new OptimizeException($"ONNX Runtime cannot run '{settings.ModelPath}': {e.Message}");
        }

        // Unchanged means byte for byte: the file is copied, not re-serialized.
        return new Candidate(result, result.IsChanged ? OnnxModel.ToBytes(result.Model) : originalBytes);
    }

    // Calibration reads the data, measures every activation MatMul/Gemm reads, and quantizes with those ranges.
    private static (OptimizationResult Result, IReadOnlyList<Sample> Calibration) QuantizeStatic(OptimizeSettings settings, ModelProto original, byte[] originalBytes)
    {
        ModelChecks.RequireEmbeddedWeights(original);
        IReadOnlyList<Sample> samples;
        using (InferenceSession session = Load(originalBytes, new SessionSettings(), $"the original model '{settings.ModelPath}'"))
        {
            samples = ValidationData.Read(settings.CalibrationPath!, session.Inputs, settings.Samples, "--calibration");
        }

        IReadOnlyList<string> activations = StaticQuantizer.ActivationsToCalibrate(original, settings.Quantization);
        var batches = Batches.Group(samples, OptimizeSettings.ComparisonBatch).Select(b => (IReadOnlyList<NamedTensor>)Batches.Stack(b)).ToList();
        IReadOnlyDictionary<string, ActivationRange> ranges = Calibrator.Calibrate(original, [.. activations], batches, settings.CalibrationMethod, settings.Percentile);
        return (StaticQuantizer.Quantize(original, ranges, settings.Quantization), samples);
    }

    private static (AccuracyReport Accuracy, SpeedReport? Speed) Measure(OptimizeSettings settings, byte[] originalBytes, byte[] optimizedBytes,
        IReadOnlyList<Sample>? calibration, CancellationToken cancellationToken)
    {
        var sessionSettings = new SessionSettings { IntraOpThreads = settings.Threads };
        using InferenceSession original = Load(originalBytes, sessionSettings, $"the original model '{settings.ModelPath}'");
        using InferenceSession optimized = Load(optimizedBytes, sessionSettings, "the optimized model");

        // Without --validation, a calibrated model is compared on its calibration data: in-sample, and said so.
        IReadOnlyList<Sample> samples = settings.ValidationPath is { } path
            ? ValidationData.Read(path, original.Inputs, settings.Samples)
            : calibration ?? ValidationData.Generate(original.Inputs, settings.Samples, settings.Seed);
        string source = settings.ValidationPath ?? (calibration is null ? "generated" : $"{settings.CalibrationPath} (the calibration data)");
        // A fixed leading dimension is the only batch size the model accepts.
        long fixedBatch = original.Inputs.Select(i => i.Shape[0]).FirstOrDefault(d => d > 0, -1);
        int comparisonBatch = fixedBatch > 0 ? (int)fixedBatch : OptimizeSettings.ComparisonBatch;
        if (fixedBatch > 0 && samples.Count % fixedBatch != 0)
        {
            samples = samples.Take(samples.Count - (int)(samples.Count % fixedBatch)).ToList();
            if (samples.Count == 0)
            {
                throw new OptimizeException($"the model's batch dimension is fixed at {fixedBatch}, more than the {settings.Samples} samples available.");
            }
        }

        AccuracyReport accuracy = AccuracyComparison.Compare(original, optimized, samples, comparisonBatch, source, cancellationToken);
        if (!settings.Bench)
        {
            return (accuracy, null);
        }

        IReadOnlyList<int> batches = fixedBatch > 0 ? [(int)fixedBatch] : settings.BenchBatches;
        return (accuracy, SpeedComparison.Measure(original, optimized, samples, batches, settings.BenchDuration, settings.Threads, cancellationToken));
    }

    private static InferenceSession Load(byte[] model, SessionSettings settings, string what)
    {
        try
        {
            return InferenceSession.FromBytes(model, settings);
        }
        catch (OnnxRuntimeException e)
        {
            throw new OptimizeException($"ONNX Runtime cannot load {what}: {e.Message}");
        }
    }

    private static LimitReport CheckLimits(OptimizeSettings settings, AccuracyReport? accuracy)
    {
        var failures = new List<string>();
        if (accuracy is not null && settings.MaxAccuracyDrop is { } maxDrop)
        {
            if (accuracy.Top1Agreement is not { } agreement)
            {
                failures.Add("--max-accuracy-drop needs a [batch, classes] float output to compare top-1 classes on, and the model has none; use --max-abs-diff.");
            }
            else if (1 - agreement > maxDrop)
            {
                failures.Add($"top-1 disagreement {1 - agreement:P2} exceeds --max-accuracy-drop {maxDrop:P2}.");
            }
        }

        if (accuracy is not null && settings.MaxAbsDiff is { } maxDiff && accuracy.MaxAbsDiff > maxDiff)
        {
            failures.Add($"max abs difference {accuracy.MaxAbsDiff:G4} exceeds --max-abs-diff {maxDiff:G4}.");
        }

        return new LimitReport(settings.MaxAccuracyDrop, settings.MaxAbsDiff, failures.Count == 0, failures);
    }

    private static string ModeName(OptimizeSettings settings) => settings.Mode switch
    {
        OptimizeMode.Int8Dynamic => "int8-dynamic",
        OptimizeMode.Int8Static => "int8-static",
        OptimizeMode.Fp16 => "fp16",
        OptimizeMode.Graph => "graph-" + GraphLevelName(settings.GraphLevel),
        _ => settings.Mode.ToString(),
    };

    private static Dictionary<string, string> OptionsOf(OptimizeSettings settings)
    {
        var options = new Dictionary<string, string>();
        if (settings.Mode == OptimizeMode.Int8Static)
        {
            options["calibration"] = settings.CalibrationMethod == CalibrationMethod.MinMax
                ? "min-max"
                : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"percentile {settings.Percentile}");
        }

        if (settings.Mode is OptimizeMode.Int8Dynamic or OptimizeMode.Int8Static)
        {
            DynamicQuantizationOptions q = settings.Quantization;
            options["weights"] = (q.PerChannel ? "per-channel" : "per-tensor") + (q.Symmetric ? " symmetric" : " asymmetric") + (q.ReduceRange ? " 7-bit" : "");
            if (q.ExcludeNodes.Count > 0)
            {
                options["exclude_nodes"] = string.Join(",", q.ExcludeNodes);
            }

            if (q.ExcludeOpTypes.Count > 0)
            {
                options["exclude_ops"] = string.Join(",", q.ExcludeOpTypes);
            }
        }

        if (settings.Mode == OptimizeMode.Fp16)
        {
            IReadOnlyCollection<string> kept = settings.Fp16.BlockedOpTypes;
            options["float32_ops"] = kept.Count == 0 ? "none"
                : ReferenceEquals(kept, Fp16Options.DefaultBlockedOpTypes) ? "default"
                : string.Join(",", kept.Order(StringComparer.Ordinal));
            if (settings.Fp16.BlockedNodes.Count > 0)
            {
                options["float32_nodes"] = string.Join(",", settings.Fp16.BlockedNodes);
            }
        }

        return options;
    }

    /// <summary>The --graph spelling of a level.</summary>
    public static string GraphLevelName(GraphOptimizationLevel level) => level switch
    {
        GraphOptimizationLevel.Basic => "basic",
        GraphOptimizationLevel.Extended => "extended",
        _ => "all",
    };

    private sealed record Candidate(OptimizationResult Result, byte[] Bytes);
}
