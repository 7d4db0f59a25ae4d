using Google.Protobuf;
using Quiver.Onnx.Model;
using Quiver.Onnx.Model.Proto;

namespace Quiver.Onnx.Tests.Model;

public sealed class OnnxModelTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("quiver-onnx-model-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Save_ThenLoad_ReturnsEqualModelAndLeavesNoTemporaryFile()
    {
        var model = SampleModels.MultiInputOutput().Build();
        var path = Path.Combine(_directory, "nested", "model.onnx");

        OnnxModel.Save(model, path);

        Assert.Equal(model, OnnxModel.Load(path));
        Assert.Equal(["model.onnx"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Save_OverExistingFile_ReplacesIt()
    {
        var path = Path.Combine(_directory, "model.onnx");
        File.WriteAllText(path, "old contents that are much longer than nothing at all");

        SampleModels.StringIdentity().Save(path);

        Assert.Equal(SampleModels.StringIdentity().ToBytes(), File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Save_WhenRenameFails_RemovesTemporaryFile()
    {
        // A directory squats on the target name, so the final rename cannot replace it.
        var path = Path.Combine(_directory, "model.onnx");
        Directory.CreateDirectory(path);

        Assert.ThrowsAny<IOException>(() => SampleModels.StringIdentity().Save(path));

        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Load_CorruptFile_ThrowsFormatExceptionNamingTheFile()
    {
        var path = Path.Combine(_directory, "corrupt.onnx");
        File.WriteAllBytes(path, [0x08, 0x96]); // a varint cut off after its continuation bit

        var error = Assert.Throws<OnnxModelFormatException>(() => OnnxModel.Load(path));

        Assert.Contains(path, error.Message);
        Assert.Equal(path, error.Origin);
        Assert.IsType<InvalidProtocolBufferException>(error.InnerException);
    }

    [Fact]
    public void Load_EmptyFile_ThrowsFormatExceptionForMissingIrVersion()
    {
        var path = Path.Combine(_directory, "empty.onnx");
        File.WriteAllBytes(path, []);

        var error = Assert.Throws<OnnxModelFormatException>(() => OnnxModel.Load(path));

        Assert.Contains("ir_version", error.Message);
    }

    [Fact]
    public void Load_ModelWithoutGraph_ThrowsFormatException()
    {
        var bytes = new ModelProto { IrVersion = 8 }.ToByteArray();

        var error = Assert.Throws<OnnxModelFormatException>(() => OnnxModel.Parse(bytes, "upload"));

        Assert.Contains("'upload'", error.Message);
        Assert.Contains("graph", error.Message);
    }

    [Fact]
    public void Load_Bytes_ParsesTheModel()
    {
        var model = SampleModels.MultiInputOutput().Build();

        Assert.Equal(model, OnnxModel.Load(model.ToByteArray()));
    }

    [Fact]
    public void Load_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => OnnxModel.Load(Path.Combine(_directory, "absent.onnx")));
    }

    [Fact]
    public void Parse_FieldsThisLibraryDoesNotModel_SurviveARoundTrip()
    {
        var bytes = SampleModels.StringIdentity().ToBytes();
        // ModelProto field 25 (functions, a FunctionProto list) is not in our .proto: append one entry by hand.
        byte[] function = [0xCA, 0x01, 0x03, 0x0A, 0x01, (byte)'f'];
        var withUnknownField = bytes.Concat(function).ToArray();

        var model = OnnxModel.Parse(withUnknownField);

        Assert.Equal(withUnknownField, OnnxModel.ToBytes(model));
    }
}
