using System.Text.Json;

namespace Quiver.Core.Models;

/// <summary>
/// The small text files that configure one version beside its ONNX artifact — config.pbtxt, config.json and the
/// label files they name — kept by name. The registry stores them as the version's config JSON, so a version
/// loads the same way on every replica whether it came from a repository folder or a push.
/// </summary>
public sealed class ModelBundle
{
    private ModelBundle(SortedDictionary<string, string> files)
    {
        Files = files;
    }

    /// <summary>File name → content.</summary>
    public IReadOnlyDictionary<string, string> Files { get; }

    /// <summary>No files: the defaults.</summary>
    public static ModelBundle Empty { get; } = new(new SortedDictionary<string, string>(StringComparer.Ordinal));

    /// <summary>A pushed version's configuration: Quiver's config.json, or none.</summary>
    public static ModelBundle FromConfigJson(string? configJson)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (!string.IsNullOrWhiteSpace(configJson))
        {
            files[ModelConfig.FileName] = configJson;
        }

        return new ModelBundle(files);
    }

    /// <summary>
    /// Reads a repository model folder's config.pbtxt, config.json and the label files they name. Throws
    /// <see cref="ModelConfigException"/> for a label file outside the folder or missing, <see cref="IOException"/> on read errors.
    /// </summary>
    public static ModelBundle FromFolder(string modelDir)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in new[] { TritonModelConfig.FileName, ModelConfig.FileName })
        {
            string path = Path.Combine(modelDir, name);
            if (File.Exists(path))
            {
                files[name] = File.ReadAllText(path);
            }
        }

        var bundle = new ModelBundle(files);
        string root = Path.GetFullPath(modelDir) + Path.DirectorySeparatorChar;
        foreach ((string output, string file) in bundle.ReadConfig(null).LabelFiles)
        {
            string path = Path.GetFullPath(Path.Combine(modelDir, file));
            if (!path.StartsWith(root, StringComparison.Ordinal))
            {
                throw new ModelConfigException($"label file '{file}' must be inside the model's folder.");
            }

            if (!File.Exists(path))
            {
                throw new ModelConfigException($"label file '{file}' for output '{output}' does not exist.");
            }

            files[file] = File.ReadAllText(path);
        }

        return bundle;
    }

    /// <summary>Reads the form <see cref="ToJson"/> writes; null or empty is <see cref="Empty"/>.</summary>
    public static ModelBundle Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return Empty;
        }

        try
        {
            var files = JsonSerializer.Deserialize<Dictionary<string, string>>(json)
                ?? throw new ModelConfigException("the version's configuration is null.");
            return new ModelBundle(new SortedDictionary<string, string>(files, StringComparer.Ordinal));
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"the version's configuration is not a JSON object of file names to contents: {e.Message}");
        }
    }

    /// <summary>The files as one JSON object, name → content, in name order (so equal bundles give equal text).</summary>
    public string ToJson() => JsonSerializer.Serialize(Files);

    /// <summary>
    /// The version's configuration: config.pbtxt (or <paramref name="tritonOverride"/>, a load request's override, instead
    /// of both files, as in Triton), then config.json's settings over it, and the labels. Throws <see cref="ModelConfigException"/>.
    /// </summary>
    public ResolvedModelConfig Resolve(TritonModelConfig? tritonOverride = null)
    {
        TritonModelConfig? triton = tritonOverride ?? (Files.TryGetValue(TritonModelConfig.FileName, out string? pbtxt) ? TritonModelConfig.Parse(pbtxt) : null);
        ModelConfig config = tritonOverride?.ToModelConfig() ?? ReadConfig(triton);
        var labels = new Dictionary<string, string[]>();
        foreach ((string output, string file) in config.LabelFiles)
        {
            string text = Files.GetValueOrDefault(file)
                ?? throw new ModelConfigException($"label file '{file}' for output '{output}' is not among the version's files.");
            labels[output] = text.Split('\n').Select(line => line.TrimEnd('\r')).Where(line => line.Length > 0).ToArray();
        }

        return new ResolvedModelConfig(triton, config, labels);
    }

    // config.json is Quiver's own file, so a setting it gives overrides the same setting from config.pbtxt;
    // settings it leaves out keep config.pbtxt's values.
    private ModelConfig ReadConfig(TritonModelConfig? triton)
    {
        if (triton is null && Files.TryGetValue(TritonModelConfig.FileName, out string? pbtxt))
        {
            triton = TritonModelConfig.Parse(pbtxt);
        }

        ModelConfig config = triton?.ToModelConfig() ?? ModelConfig.Default;
        return Files.TryGetValue(ModelConfig.FileName, out string? json) ? ModelConfig.Parse(json, config) : config;
    }
}

/// <summary>A version's configuration, read from its <see cref="ModelBundle"/>.</summary>
public sealed record ResolvedModelConfig(TritonModelConfig? Triton, ModelConfig Config, IReadOnlyDictionary<string, string[]> Labels);
