using System.Runtime.InteropServices;
using System.Text;

namespace Quiver.Onnx;

/// <summary>An array of NUL-terminated UTF-8 strings in native memory (<c>const char* const*</c>), freed on dispose.</summary>
internal sealed unsafe class Utf8Array : IDisposable
{
    public Utf8Array(IEnumerable<string> values)
    {
        string[] strings = values.ToArray();
        Count = strings.Length;
        Pointers = (byte**)NativeMemory.AllocZeroed((nuint)Math.Max(Count, 1), (nuint)sizeof(byte*));
        for (int i = 0; i < Count; i++)
        {
            int length = Encoding.UTF8.GetByteCount(strings[i]);
            byte* text = (byte*)NativeMemory.AllocZeroed((nuint)length + 1);
            Encoding.UTF8.GetBytes(strings[i], new Span<byte>(text, length));
            Pointers[i] = text;
        }
    }

    public int Count { get; }

    public byte** Pointers { get; private set; }

    public void Dispose()
    {
        if (Pointers == null)
        {
            return;
        }

        for (int i = 0; i < Count; i++)
        {
            NativeMemory.Free(Pointers[i]);
        }

        NativeMemory.Free(Pointers);
        Pointers = null;
    }
}
