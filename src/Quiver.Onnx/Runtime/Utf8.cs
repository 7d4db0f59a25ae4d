using System.Runtime.InteropServices;
using System.Text;

namespace Quiver.Onnx;

/// <summary>The C API's strings: NUL-terminated UTF-8.</summary>
internal static unsafe class Utf8
{
    /// <summary>A NUL-terminated copy of <paramref name="value"/>, for <c>fixed</c>.</summary>
    public static byte[] Terminated(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }

    /// <summary>Reads a NUL-terminated string; null for a null pointer.</summary>
    public static string? Read(byte* value) =>
        value == null ? null : Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(value));
}
