using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Model;

/// <summary>Builds the ONNX type and value-info messages for declared graph inputs, outputs and intermediate values.</summary>
public static class OnnxTypes
{
    /// <summary>A tensor type with the given element type and shape; null dims leave the shape (and rank) unknown.</summary>
    public static TypeProto Tensor(TensorElementType elementType, IReadOnlyList<Dim>? dims)
    {
        if (elementType == TensorElementType.Undefined)
        {
            throw new ArgumentException("A tensor type needs a defined element type.", nameof(elementType));
        }

        var tensor = new TypeProto.Types.Tensor { ElemType = (int)elementType };
        if (dims is not null)
        {
            tensor.Shape = Shape(dims);
        }

        return new TypeProto { TensorType = tensor };
    }

    /// <summary>A shape message from dims, fixed, symbolic or unknown.</summary>
    public static TensorShapeProto Shape(IReadOnlyList<Dim> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            var d = new TensorShapeProto.Types.Dimension();
            if (dim.Size is { } size)
            {
                d.DimValue = size;
            }
            else if (dim.Name is { } name)
            {
                d.DimParam = name;
            }

            shape.Dim.Add(d);
        }

        return shape;
    }

    /// <summary>A sequence type whose elements have the given type.</summary>
    public static TypeProto Sequence(TypeProto elementType) =>
        new() { SequenceType = new TypeProto.Types.Sequence { ElemType = elementType } };

    /// <summary>A map type from a key element type (integral or string) to a value type.</summary>
    public static TypeProto Map(TensorElementType keyType, TypeProto valueType) =>
        new() { MapType = new TypeProto.Types.Map { KeyType = (int)keyType, ValueType = valueType } };

    /// <summary>A named value of the given type.</summary>
    public static ValueInfoProto ValueInfo(string name, TypeProto type, string? docString = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var info = new ValueInfoProto { Name = name, Type = type };
        if (docString is not null)
        {
            info.DocString = docString;
        }

        return info;
    }

    /// <summary>The dims of a tensor value's declared shape, or null when the value is not a tensor or has no shape.</summary>
    public static IReadOnlyList<Dim>? DimsOf(ValueInfoProto value)
    {
        if (value.Type?.TensorType is not { Shape: { } shape })
        {
            return null;
        }

        var dims = new Dim[shape.Dim.Count];
        for (var i = 0; i < dims.Length; i++)
        {
            var d = shape.Dim[i];
            dims[i] = d.ValueCase switch
            {
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => Dim.Of(d.DimValue),
                TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => Dim.Named(d.DimParam),
                _ => Dim.Unknown,
            };
        }

        return dims;
    }
}
