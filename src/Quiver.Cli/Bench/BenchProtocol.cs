namespace Quiver.Cli.Bench;

/// <summary>How <c>quiver bench run</c> sends requests.</summary>
public enum BenchProtocol
{
    /// <summary>REST, tensors as JSON.</summary>
    RestJson,

    /// <summary>REST with the binary tensor data extension, inputs and outputs as raw bytes.</summary>
    RestBinary,

    /// <summary>gRPC ModelInfer with raw_input_contents.</summary>
    Grpc,
}

/// <summary>The command-line names of <see cref="BenchProtocol"/>.</summary>
public static class BenchProtocols
{
    /// <summary>Every accepted name, in the order help lists them.</summary>
    public static IReadOnlyList<string> Names { get; } = ["rest-json", "rest-binary", "grpc"];

    /// <summary>The command-line name, e.g. "rest-json".</summary>
    public static string Name(this BenchProtocol protocol) => Names[(int)protocol];

    /// <summary>Parses a command-line name; an unknown one is a <see cref="BenchException"/> listing the known ones.</summary>
    public static BenchProtocol Parse(string name)
    {
        int index = Names.ToList().IndexOf(name);
        return index >= 0
            ? (BenchProtocol)index
            : throw new BenchException($"unknown protocol '{name}'; use one of {string.Join(", ", Names)}.");
    }
}
