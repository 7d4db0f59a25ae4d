namespace Quiver.Onnx;

/// <summary>The ONNX Runtime native library is missing or is not a usable ONNX Runtime.</summary>
public sealed class OrtLibraryException(string libraryPath, string problem)
    : Exception($"ONNX Runtime library {libraryPath}: {problem}. Build the solution (dotnet build installs the library from native/package-lock.json " +
        $"with npm ci) or set {OnnxRuntime.LibraryVariable} to the path of a libonnxruntime.so of version 1.{OrtApi.Version} or newer.")
{
    /// <summary>The path that was tried.</summary>
    public string LibraryPath { get; } = libraryPath;
}
