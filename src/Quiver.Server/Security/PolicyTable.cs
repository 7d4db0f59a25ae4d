using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Server.Dashboard;
using Quiver.Server.Grpc;

namespace Quiver.Server.Security;

/// <summary>
/// The one table of who may call what: every REST route (method and route pattern, as mapped) and every RPC of
/// <c>inference.GRPCInferenceService</c>, with the access it needs. A route missing from the table is refused to all
/// but admins, and <c>PolicyTableTests</c> fails for it, so a new endpoint cannot go unprotected by accident.
/// </summary>
public static class PolicyTable
{
    /// <summary>The route pattern of ASP.NET Core's fallback (<c>MapFallback</c>): unknown paths, answered 404 to anyone.</summary>
    public const string FallbackPattern = "{*path:nonfile}";

    /// <summary>Access per REST route: (method, route pattern) as mapped; method <c>*</c> for a route mapped for all methods.</summary>
    public static IReadOnlyDictionary<(string Method, string Pattern), Access> Rest { get; } = new Dictionary<(string, string), Access>
    {
        // Health: open to probes with --open-health.
        [("GET", "/v2/health/live")] = Access.Probe,
        [("GET", "/v2/health/ready")] = Access.Probe,

        // Metadata, statistics, metrics, dashboard: viewers.
        [("GET", "/v2")] = Access.Viewer,
        [("GET", "/v2/models/{model}")] = Access.Viewer,
        [("GET", "/v2/models/{model}/versions/{version}")] = Access.Viewer,
        [("GET", "/v2/models/{model}/ready")] = Access.Viewer,
        [("GET", "/v2/models/{model}/versions/{version}/ready")] = Access.Viewer,
        [("GET", "/v2/models/{model}/config")] = Access.Viewer,
        [("GET", "/v2/models/{model}/versions/{version}/config")] = Access.Viewer,
        [("GET", "/v2/models/stats")] = Access.Viewer,
        [("GET", "/v2/models/{model}/stats")] = Access.Viewer,
        [("GET", "/v2/models/{model}/versions/{version}/stats")] = Access.Viewer,
        [("POST", "/v2/repository/index")] = Access.Viewer,
        [("GET", "/metrics")] = Access.Viewer,
        [("GET", DashboardEndpoints.ApiPath)] = Access.Viewer,
        [("GET", DashboardEndpoints.ApiPath + "/{**rest}")] = Access.Viewer,
        [("GET", "/v2/admin/models")] = Access.Viewer,
        [("GET", "/v2/admin/models/{model}")] = Access.Viewer,
        [("GET", "/v2/admin/models/{model}/versions/{version}")] = Access.Viewer,
        [("GET", "/v2/admin/models/{model}/history")] = Access.Viewer,
        [("GET", "/v2/admin/models/{model}/drift")] = Access.Viewer,
        [("GET", "/v2/admin/endpoints")] = Access.Viewer,
        [("GET", "/v2/admin/endpoints/{endpoint}")] = Access.Viewer,
        [("GET", "/v2/admin/experiments/{endpoint}")] = Access.Viewer,
        [("GET", "/v2/admin/rollouts")] = Access.Viewer,
        [("GET", "/v2/admin/rollouts/{model}")] = Access.Viewer,

        // Inference and feedback: predictors.
        [("POST", "/v2/models/{model}/infer")] = Access.Predictor,
        [("POST", "/v2/models/{model}/versions/{version}/infer")] = Access.Predictor,
        [("POST", "/v2/feedback")] = Access.Predictor,

        // Registry, repository, rollouts, experiments, endpoints, batch: deployers.
        [("POST", "/v2/repository/models/{model}/load")] = Access.Deployer,
        [("POST", "/v2/repository/models/{model}/unload")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/versions")] = Access.Deployer,
        [("PUT", "/v2/admin/models/{model}/aliases/{alias}")] = Access.Deployer,
        [("DELETE", "/v2/admin/models/{model}/aliases/{alias}")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/promote")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/rollback")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/versions/{version}/retire")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/bluegreen")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/bluegreen/{action}")] = Access.Deployer,
        [("POST", "/v2/admin/models/{model}/drift/baseline")] = Access.Deployer,
        [("PUT", "/v2/admin/endpoints/{endpoint}")] = Access.Deployer,
        [("DELETE", "/v2/admin/endpoints/{endpoint}")] = Access.Deployer,
        [("POST", "/v2/admin/experiments/{endpoint}/conclude")] = Access.Deployer,
        [("POST", "/v2/admin/rollouts")] = Access.Deployer,
        [("POST", "/v2/admin/rollouts/{model}/{action}")] = Access.Deployer,
        [("POST", "/v2/admin/batch/jobs")] = Access.Deployer,
        [("GET", "/v2/admin/batch/jobs")] = Access.Deployer,
        [("GET", "/v2/admin/batch/jobs/{id}")] = Access.Deployer,
        [("DELETE", "/v2/admin/batch/jobs/{id}")] = Access.Deployer,
        [("GET", "/v2/admin/batch/jobs/{id}/output")] = Access.Deployer,
        [("GET", "/v2/admin/batch/jobs/{id}/errors")] = Access.Deployer,

        // The audit log: who did what is itself sensitive, and anchoring writes to it.
        [("GET", "/v2/admin/audit")] = Access.Admin,
        [("GET", "/v2/admin/audit/verify")] = Access.Admin,
        [("POST", "/v2/admin/audit/anchor")] = Access.Admin,

        // The gRPC service's one route; each RPC's access is in Grpc below.
        [("POST", GrpcEndpoints.ServicePath + "{method}")] = Access.Anyone,

        // The dashboard's own files: static, the same for everyone and holding no data, so a browser can load the page
        // and ask for a key; the data it shows (GET /v2/admin/dashboard) needs viewer.
        [("GET", "/ui/{**path}")] = Access.Anyone,

        // Unknown paths: 404 to anyone, as without authentication.
        [("*", FallbackPattern)] = Access.Anyone,
    };

    /// <summary>Access per RPC of <c>inference.GRPCInferenceService</c>, by method name.</summary>
    public static IReadOnlyDictionary<string, Access> Grpc { get; } = new Dictionary<string, Access>
    {
        ["ServerLive"] = Access.Probe,
        ["ServerReady"] = Access.Probe,
        ["ServerMetadata"] = Access.Viewer,
        ["ModelReady"] = Access.Viewer,
        ["ModelMetadata"] = Access.Viewer,
        ["ModelConfig"] = Access.Viewer,
        ["ModelStatistics"] = Access.Viewer,
        ["RepositoryIndex"] = Access.Viewer,
        ["ModelInfer"] = Access.Predictor,
        ["ModelStreamInfer"] = Access.Predictor,
        ["RepositoryModelLoad"] = Access.Deployer,
        ["RepositoryModelUnload"] = Access.Deployer,
    };

    /// <summary>
    /// The access a request needs, from the endpoint routing chose: the RPC's for a gRPC call, the route's otherwise.
    /// A route or RPC the table does not know needs <see cref="Access.Admin"/> (fail closed); no endpoint at all (a
    /// 405 from routing) needs nothing, as it serves nothing.
    /// </summary>
    public static Access For(HttpContext context, out string resource)
    {
        if (context.GetEndpoint() is not RouteEndpoint endpoint)
        {
            resource = $"{context.Request.Method} {context.Request.Path}";
            return Access.Anyone;
        }

        string pattern = endpoint.RoutePattern.RawText ?? "";
        if (pattern == GrpcEndpoints.ServicePath + "{method}")
        {
            string method = context.GetRouteValue("method") as string ?? "";
            resource = "grpc " + method;
            // An RPC the service does not have gets UNIMPLEMENTED from the service; only viewers learn that.
            return Grpc.GetValueOrDefault(method) ?? Access.Viewer;
        }

        resource = $"{context.Request.Method} {pattern}";
        IReadOnlyList<string> methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"];
        foreach (string method in methods)
        {
            if (Rest.TryGetValue((method, pattern), out Access? access))
            {
                return access;
            }
        }

        return Access.Admin;
    }
}
