using System.Text;
using Quiver.Core.Tensors;
using Quiver.Server.Grpc;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Rest;

namespace Quiver.Server.Tests.Security;

/// <summary>Both decoders name a sensitive input's bad element without echoing its value, and still echo other inputs' values.</summary>
public sealed class SensitiveDecodingTests
{
    private static readonly IReadOnlySet<string> s_sensitive = new HashSet<string> { "secret" };

    private static string RestError(string input) => Assert.Throws<InferenceException>(() => InferenceJson.ReadRequest(
        Encoding.UTF8.GetBytes($$"""{"inputs":[{"name":"{{input}}","shape":[2],"datatype":"INT8","data":[1,31337]}]}"""),
        ReadOnlyMemory<byte>.Empty, "m", null, JsonRequestLimits.Default, s_sensitive)).Message;

    private static string GrpcError(string input)
    {
        var request = new ModelInferRequest { ModelName = "m" };
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = input, Datatype = "INT8", Shape = { 2 }, Contents = new InferTensorContents() };
        tensor.Contents.IntContents.AddRange([1, 31337]);
        request.Inputs.Add(tensor);
        return Assert.Throws<GrpcException>(() => GrpcTensors.ToRequest(request, s_sensitive)).Message;
    }

    [Fact]
    public void Rest_OutOfRangeElementOfASensitiveInput_IsNamedWithoutItsValue()
    {
        Assert.Equal("input 'secret' element 1 does not fit in INT8 (the value is not shown: input 'secret' is sensitive)", RestError("secret"));
        Assert.Equal("input 'plain' element 1 is 31337, which does not fit in INT8", RestError("plain"));
    }

    [Fact]
    public void Grpc_OutOfRangeElementOfASensitiveInput_IsNamedWithoutItsValue()
    {
        Assert.Equal("input 'secret' element 1 does not fit in INT8 (the value is not shown: input 'secret' is sensitive)", GrpcError("secret"));
        Assert.Equal("input 'plain' element 1 is 31337, which does not fit in INT8", GrpcError("plain"));
    }
}
