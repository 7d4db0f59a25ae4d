using Microsoft.AspNetCore.Http;
using Quiver.Core.Tensors;
using Quiver.Server.Rest;

namespace Quiver.Server.Tests.Rest;

/// <summary>The pooled request body: whole, limited, and with the binary part where ONNX Runtime can take it as it lies.</summary>
public sealed class RequestBodyTests
{
    [Theory]
    [InlineData(0, 100)]
    [InlineData(1, 100)]
    [InlineData(5, 100)]
    [InlineData(13, 100)]
    [InlineData(77, 40_000)] // grows its buffer past the first rent
    public async Task AlignedOffset_LandsOnAnEightByteBoundary_AndTheBodyIsIntact(int offset, int length)
    {
        byte[] sent = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(sent);

        using RequestBody body = await RequestBody.ReadAsync(context.Request, limit: 1 << 20, default, alignedOffset: offset);

        Assert.Equal(sent, body.Memory.ToArray());
        unsafe
        {
            using System.Buffers.MemoryHandle pin = body.Memory[offset..].Pin();
            Assert.Equal(0u, (nuint)pin.Pointer % 8);
        }
    }

    [Fact]
    public async Task BodyOverTheLimit_IsPayloadTooLarge_WhereverItIsAligned()
    {
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(new byte[101]);

        InferenceException refused = await Assert.ThrowsAsync<InferenceException>(() =>
            RequestBody.ReadAsync(context.Request, limit: 100, default, alignedOffset: 3));

        Assert.Equal(ErrorKind.PayloadTooLarge, refused.Error.Kind);
    }
}
