using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Server.Rest;
using Quiver.Server.Security;

namespace Quiver.Server.Dashboard;

/// <summary>
/// The built-in live dashboard: the page at <c>/ui</c> (static files embedded in the binary) and the one JSON
/// document it polls, <c>GET /v2/admin/dashboard</c>.
/// </summary>
internal static class DashboardEndpoints
{
    /// <summary>The JSON the page polls.</summary>
    public const string ApiPath = "/v2/admin/dashboard";

    // Only this origin's own files run or load: model names and reasons are data, never markup, and the page
    // reaches nothing outside the server (it must work offline).
    private const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void MapDashboard(this IEndpointRouteBuilder routes, DashboardSources sources, TimeProvider time)
    {
        var sampler = new DashboardSampler(time);
        long started = time.GetTimestamp();
        DashboardAssets assets = DashboardAssets.Load();

        routes.MapGet(ApiPath, async (HttpContext context) =>
        {
            DashboardReading reading = await DashboardReading.ReadAsync(sources, sampler.Timestamp(), context.RequestAborted);
            DashboardView view = sampler.Observe(reading);

            // The sampler keeps every model's history; a tenant's principal is shown only what it may see.
            if (ModelVisibility.Of(context) is not null)
            {
                view = view with { Reading = reading.Only(await ModelVisibility.FilterAsync(context)) };
            }

            context.Response.Headers.CacheControl = "no-store";
            await V2Endpoints.WriteJsonAsync(context, StatusCodes.Status200OK, w => DashboardJson.Write(w, view, time.GetElapsedTime(started)));
        });
        routes.MapGet(ApiPath + "/{**rest}", (HttpContext context) => V2Endpoints.WriteErrorAsync(context, StatusCodes.Status404NotFound,
            $"no dashboard endpoint {context.Request.Path}; the dashboard's data is GET {ApiPath}"));

        routes.MapGet("/ui/{**path}", (HttpContext context, string? path) =>
        {
            // Routing matches /ui and /ui/ alike; the page's relative links need the slash. The redirect is relative
            // too, so the page also works behind a proxy that serves the server under a path prefix.
            if (!context.Request.Path.Value!.EndsWith('/') && string.IsNullOrEmpty(path))
            {
                context.Response.StatusCode = StatusCodes.Status302Found;
                context.Response.Headers.Location = "ui/";
                return Task.CompletedTask;
            }

            if (!assets.TryGet(string.IsNullOrEmpty(path) ? DashboardAssets.IndexFile : path, out DashboardAssets.Asset asset))
            {
                return V2Endpoints.WriteErrorAsync(context, StatusCodes.Status404NotFound,
                    $"no dashboard file '{path}'; the dashboard is at /ui/");
            }

            return ServeAsync(context, asset);
        });
    }

    private static Task ServeAsync(HttpContext context, DashboardAssets.Asset asset)
    {
        IHeaderDictionary headers = context.Response.Headers;
        headers.ETag = asset.ETag;
        headers.CacheControl = "no-cache"; // revalidated each time, so a server upgrade shows its new page at once
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        if (context.Request.Headers.IfNoneMatch.ToString().Contains(asset.ETag, StringComparison.Ordinal))
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }

        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = asset.Content.Length;
        return context.Response.Body.WriteAsync(asset.Content, context.RequestAborted).AsTask();
    }
}
