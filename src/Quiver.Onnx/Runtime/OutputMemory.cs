namespace Quiver.Onnx;

/// <summary>
/// Memory the caller owns for output <paramref name="output"/> (its position in the run's outputs) of
/// <paramref name="bytes"/> bytes, exactly that long: <see cref="InferenceSession.Run"/> copies the output there instead
/// of into a new array, so a caller running batch after batch can reuse its buffers.
/// </summary>
public delegate Memory<byte> OutputMemory(int output, int bytes);
