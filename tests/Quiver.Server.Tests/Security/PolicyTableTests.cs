using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Server.Grpc.Proto;
using Quiver.Server.Security;

namespace Quiver.Server.Tests.Security;

/// <summary>The policy table against what the server really serves: every endpoint and RPC has an entry, and no entry is stale.</summary>
[Collection(SecuredServerCollection.Name)]
public sealed class PolicyTableTests(SecuredServer secured)
{
    [Fact]
    public void EveryEndpointTheServerMaps_IsInThePolicyTable()
    {
        var mapped = new List<(string Method, string Pattern)>();
        foreach (RouteEndpoint endpoint in secured.Server.Server.Endpoints.OfType<RouteEndpoint>())
        {
            string pattern = endpoint.RoutePattern.RawText!;
            IReadOnlyList<string> methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"];
            mapped.AddRange(methods.Select(m => (m, pattern)));
        }

        var missing = mapped.Where(e => !PolicyTable.Rest.ContainsKey(e)).Select(e => $"{e.Method} {e.Pattern}").ToList();
        Assert.True(missing.Count == 0, "endpoints without a policy: " + string.Join(", ", missing));
        var stale = PolicyTable.Rest.Keys.Except(mapped).Select(e => $"{e.Method} {e.Pattern}").ToList();
        Assert.True(stale.Count == 0, "policies for endpoints that do not exist: " + string.Join(", ", stale));
        Assert.True(mapped.Count > 40, $"only {mapped.Count} endpoints were found; the enumeration is broken");
    }

    [Fact]
    public void EveryRpcOfTheProto_IsInThePolicyTable()
    {
        var rpcs = GrpcServiceReflection.Descriptor.Services.Single(s => s.FullName == "inference.GRPCInferenceService")
            .Methods.Select(m => m.Name).ToHashSet();

        Assert.Equal(rpcs.Order(), PolicyTable.Grpc.Keys.Order());
    }

    [Fact]
    public void ARouteTheTableDoesNotKnow_NeedsAdmin()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, Microsoft.AspNetCore.Routing.Patterns.RoutePatternFactory.Parse("/v2/new/thing"), 0,
            new EndpointMetadataCollection(new HttpMethodMetadata(["GET"])), "new"));

        Assert.Same(Access.Admin, PolicyTable.For(context, out string resource));
        Assert.Equal("GET /v2/new/thing", resource);
    }
}
