using System.Globalization;
using Quiver.Onnx;

namespace Quiver.Core.Batch;

/// <summary>
/// The model of a batch job: a file given directly, NAME[:VERSION] in a model repository, or NAME[:VERSION|@ALIAS]
/// in the registry (decrypted in memory). <see cref="Sha256"/> identifies it in checkpoints.
/// </summary>
public sealed class BatchModel
{
    private readonly string? _path;
    private readonly byte[]? _bytes;

    private BatchModel(string display, string sha256, string? path, byte[]? bytes)
    {
        Display = display;
        Sha256 = sha256;
        _path = path;
        _bytes = bytes;
    }

    /// <summary>What the user asked for, resolved (e.g. "iris:2"), for messages and checkpoints.</summary>
    public string Display { get; }

    /// <summary>SHA-256 of the model's bytes.</summary>
    public string Sha256 { get; }

    /// <summary>The inputs its config.json marks sensitive (in a model repository or the registry); empty when none.</summary>
    public IReadOnlyList<string> SensitiveInputs { get; private init; } = [];

    /// <summary>A model file.</summary>
    public static BatchModel FromFile(string display, string path) => new(display, FileHash.Sha256(path), System.IO.Path.GetFullPath(path), null);

    /// <summary>A model something else runs (a served version), known by name and checksum only.</summary>
    public static BatchModel Served(string display, string sha256) => new(display, sha256, null, null);

    /// <summary>Model bytes already read and checked (e.g. a registry artifact).</summary>
    public static BatchModel FromBytes(string display, string sha256, byte[] bytes) => new(display, sha256, null, bytes);

    /// <summary>
    /// Finds the model: a path ending in .onnx or naming an existing file is used as is; otherwise
    /// NAME[:VERSION] is looked up in <paramref name="repository"/> (Triton's layout, &lt;model&gt;/&lt;version&gt;/model.onnx),
    /// the highest version when none is given.
    /// </summary>
    public static BatchModel Locate(string model, string? repository)
    {
        if (model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || File.Exists(model))
        {
            return File.Exists(model)
                ? WithRepositoryConfig(FromFile(model, model), model)
                : throw new BatchException(BatchErrorKind.ModelNotFound, $"model file '{model}' does not exist.");
        }

        if (model.Contains('@', StringComparison.Ordinal))
        {
            throw new BatchException(BatchErrorKind.Model,
                $"--model '{model}': aliases live in a registry, and a model repository has only numbered versions; use NAME:VERSION, NAME for the latest, or pass --registry or --data-dir.");
        }

        if (repository is null)
        {
            throw new BatchException(BatchErrorKind.Model,
                $"--model '{model}' is not a file; to name a model, pass --model-repository DIR (laid out as <model>/<version>/model.onnx).");
        }

        if (!Directory.Exists(repository))
        {
            throw new BatchException(BatchErrorKind.ModelNotFound, $"model repository '{repository}' does not exist.");
        }

        int colon = model.LastIndexOf(':');
        string name = colon < 0 ? model : model[..colon];
        long? version = null;
        if (colon >= 0)
        {
            if (!long.TryParse(model.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long v) || v < 1)
            {
                throw new BatchException(BatchErrorKind.Model, $"--model '{model}': the version after ':' must be a number from 1 up.");
            }

            version = v;
        }

        string folder = System.IO.Path.Combine(repository, name);
        if (name.Length == 0 || name.StartsWith('.') || name.IndexOfAny(['/', '\\']) >= 0 || !Directory.Exists(folder))
        {
            string[] known = Directory.EnumerateDirectories(repository).Select(System.IO.Path.GetFileName).Where(n => !n!.StartsWith('.')).Order().ToArray()!;
            throw new BatchException(BatchErrorKind.ModelNotFound,
                $"model repository '{repository}' has no model '{name}'; it has: {(known.Length == 0 ? "none" : string.Join(", ", known))}.");
        }

        long[] versions = Directory.EnumerateDirectories(folder)
            .Select(d => long.TryParse(System.IO.Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : 0)
            .Where(v => v > 0 && File.Exists(System.IO.Path.Combine(folder, v.ToString(CultureInfo.InvariantCulture), "model.onnx")))
            .Order()
            .ToArray();
        if (versions.Length == 0)
        {
            throw new BatchException(BatchErrorKind.Model, $"model '{name}' in '{repository}' has no version folder with a model.onnx.");
        }

        long chosen = version ?? versions[^1];
        if (!versions.Contains(chosen))
        {
            throw new BatchException(BatchErrorKind.ModelNotFound,
                $"model '{name}' has no version {chosen}; its versions are: {string.Join(", ", versions)}.");
        }

        string path = System.IO.Path.Combine(folder, chosen.ToString(CultureInfo.InvariantCulture), "model.onnx");
        return WithRepositoryConfig(FromFile($"{name}:{chosen}", path), path);
    }

    // A file at <model>/<version>/model.onnx is a repository model, whose sensitive inputs its <model>/config.json names.
    private static BatchModel WithRepositoryConfig(BatchModel model, string path)
    {
        DirectoryInfo? version = Directory.GetParent(System.IO.Path.GetFullPath(path));
        string? config = version?.Parent is { } folder && long.TryParse(version.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _)
            ? System.IO.Path.Combine(folder.FullName, Models.ModelConfig.FileName)
            : null;
        return config is not null && File.Exists(config) ? model.WithConfig(() => Models.ModelConfig.Parse(File.ReadAllText(config)), config) : model;
    }

    /// <summary>This model with the sensitive inputs of its config; <paramref name="source"/> names the config in errors.</summary>
    internal BatchModel WithConfig(Func<Models.ModelConfig> read, string source)
    {
        try
        {
            return new BatchModel(Display, Sha256, _path, _bytes) { SensitiveInputs = read().SensitiveInputs };
        }
        catch (Exception e) when (e is Models.ModelConfigException or FormatException or IOException)
        {
            throw new BatchException(BatchErrorKind.Model, $"cannot read {source}: {e.Message}", e);
        }
    }

    /// <summary>Loads the file into ONNX Runtime; throws a <see cref="BatchErrorKind.Model"/> error when it cannot.</summary>
    public InferenceSession Load(SessionSettings settings)
    {
        try
        {
            return _bytes is not null ? InferenceSession.FromBytes(_bytes, settings)
                : _path is not null ? InferenceSession.FromFile(_path, settings)
                : throw new InvalidOperationException($"model '{Display}' is run by the server, not loaded here.");
        }
        catch (OnnxRuntimeException e)
        {
            throw new BatchException(BatchErrorKind.Model, $"ONNX Runtime cannot load model '{Display}': {e.Message}", e);
        }
    }
}
