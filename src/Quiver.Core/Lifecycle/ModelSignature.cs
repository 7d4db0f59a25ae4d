using System.Text.Json;
using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Onnx;

namespace Quiver.Core.Lifecycle;

/// <summary>A version's inputs and outputs as clients see them, stored in the registry as JSON to compare versions.</summary>
public sealed record ModelSignature(IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    /// <summary>Reads the signature ONNX Runtime reports for a model. Throws <see cref="OnnxRuntimeException"/> when it cannot load it.</summary>
    /// <param name="model">The ONNX model.</param>
    /// <param name="runtime">The ONNX Runtime that reads it.</param>
    /// <param name="warmup">A configured warm-up sample to check against the model's inputs, so a push refuses one that would fail every load.</param>
    /// <exception cref="WarmupSampleMismatchException">The warm-up sample does not fit the model's inputs.</exception>
    public static ModelSignature Of(byte[] model, OnnxRuntime runtime, WarmupSample? warmup = null)
    {
        using InferenceSession session = InferenceSession.FromBytes(model, new SessionSettings { IntraOpThreads = 1 }, runtime);
        try
        {
            warmup?.ToTensors(session.Inputs);
        }
        catch (ModelConfigException e)
        {
            throw new WarmupSampleMismatchException(e.Message);
        }

        return new ModelSignature(ServedModel.ToSpecs(session.Inputs, "input"), ServedModel.ToSpecs(session.Outputs, "output"));
    }

    /// <summary>The tensors as the registry stores them: <c>[{"name","datatype","shape"}]</c>.</summary>
    public static string ToJson(IReadOnlyList<TensorSpec> tensors) =>
        JsonSerializer.Serialize(tensors.Select(t => new TensorJson(t.Name, t.DataType.Name(), t.Shape)));

    /// <summary>Reads <see cref="ToJson"/>'s form; null or unreadable text gives null (nothing to compare with).</summary>
    public static IReadOnlyList<TensorSpec>? FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            var tensors = JsonSerializer.Deserialize<TensorJson[]>(json);
            var specs = new List<TensorSpec>();
            foreach (TensorJson t in tensors ?? [])
            {
                if (!DataTypes.TryParse(t.Datatype, out DataType type))
                {
                    return null;
                }

                specs.Add(new TensorSpec(t.Name, type, t.Shape));
            }

            return tensors is null ? null : specs;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// What would break clients of <paramref name="current"/> if this signature replaced it: an input added or
    /// removed or changed, an output removed or changed. Added outputs break nobody. Empty when compatible.
    /// </summary>
    public IReadOnlyList<string> BreakingChangesFrom(ModelSignature current)
    {
        var changes = new List<string>();
        Compare("input", current.Inputs, Inputs, addedBreaks: true, changes);
        Compare("output", current.Outputs, Outputs, addedBreaks: false, changes);
        return changes;
    }

    private static void Compare(string kind, IReadOnlyList<TensorSpec> before, IReadOnlyList<TensorSpec> after, bool addedBreaks, List<string> changes)
    {
        foreach (TensorSpec old in before)
        {
            TensorSpec? now = after.FirstOrDefault(t => t.Name == old.Name);
            if (now is null)
            {
                changes.Add($"{kind} '{old.Name}' removed");
            }
            else if (now.DataType != old.DataType)
            {
                changes.Add($"{kind} '{old.Name}': datatype {old.DataType.Name()} -> {now.DataType.Name()}");
            }
            else if (!ShapesAgree(old.Shape, now.Shape))
            {
                changes.Add($"{kind} '{old.Name}': shape {Shapes.Format(old.Shape)} -> {Shapes.Format(now.Shape)}");
            }
        }

        if (addedBreaks)
        {
            changes.AddRange(after.Where(t => before.All(b => b.Name != t.Name)).Select(t => $"{kind} '{t.Name}' added"));
        }
    }

    // A dimension that was free (-1) and is now fixed breaks clients sending other sizes; fixed to free breaks nobody.
    private static bool ShapesAgree(long[] before, long[] after) =>
        before.Length == after.Length && before.Zip(after).All(d => d.Second == -1 || d.First == d.Second);

    private sealed record TensorJson(
        [property: System.Text.Json.Serialization.JsonPropertyName("name")] string Name,
        [property: System.Text.Json.Serialization.JsonPropertyName("datatype")] string Datatype,
        [property: System.Text.Json.Serialization.JsonPropertyName("shape")] long[] Shape);
}

/// <summary>A configured warm-up sample that does not fit the model's inputs; the message says what and what was expected.</summary>
public sealed class WarmupSampleMismatchException(string message) : Exception(message);
