namespace Quiver.Onnx.Model;

/// <summary>One dimension of a declared tensor shape: a fixed size, a symbolic name such as "batch", or unknown.</summary>
public readonly record struct Dim
{
    private Dim(long? size, string? name)
    {
        Size = size;
        Name = name;
    }

    /// <summary>The fixed size, or null when the dimension is symbolic or unknown.</summary>
    public long? Size { get; }

    /// <summary>The symbolic name (ONNX dim_param), or null when the dimension is fixed or unknown.</summary>
    public string? Name { get; }

    /// <summary>A dimension of unknown size with no name.</summary>
    public static Dim Unknown => default;

    /// <summary>A dimension of fixed size.</summary>
    public static Dim Of(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return new Dim(size, null);
    }

    /// <summary>A symbolic dimension; dimensions sharing a name must have equal sizes at run time.</summary>
    public static Dim Named(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new Dim(null, name);
    }

    /// <summary>A fixed dimension, so shapes can be written as <c>("batch", 4)</c>.</summary>
    public static implicit operator Dim(long size) => Of(size);

    /// <summary>A fixed dimension, so shapes can be written as <c>("batch", 4)</c>.</summary>
    public static implicit operator Dim(int size) => Of(size);

    /// <summary>A symbolic dimension, so shapes can be written as <c>("batch", 4)</c>.</summary>
    public static implicit operator Dim(string name) => Named(name);

    /// <inheritdoc />
    public override string ToString() => Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Name ?? "?";
}
