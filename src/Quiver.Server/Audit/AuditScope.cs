using Microsoft.AspNetCore.Http;
using Quiver.Core.Security.Audit;

namespace Quiver.Server.Audit;

/// <summary>
/// What an audited request adds to its audit entry while it runs: the resource when the route does not name it (a
/// rollout's model is in the body) and the figures worth keeping (version numbers, previous versions). The filter
/// that audits the endpoint puts one on the request's features; handlers reach it through <see cref="Note"/>.
/// </summary>
internal sealed class AuditScope
{
    private readonly Dictionary<string, object?> _details = new(StringComparer.Ordinal);

    /// <summary>Overrides the resource the route gave.</summary>
    public string? Resource { get; set; }

    /// <summary>Adds a detail to the request's audit entry; does nothing when the endpoint is not audited.</summary>
    public static void Note(HttpContext context, string name, object? value)
    {
        if (context.Features.Get<AuditScope>() is { } scope)
        {
            scope._details[name] = value;
        }
    }

    /// <summary>Names the resource of the request's audit entry; does nothing when the endpoint is not audited.</summary>
    public static void SetResource(HttpContext context, string resource)
    {
        if (context.Features.Get<AuditScope>() is { } scope)
        {
            scope.Resource = resource;
        }
    }

    /// <summary>The details as one JSON object, keys sorted, or null when there are none.</summary>
    public string? DetailsJson(params (string Name, object? Value)[] extra)
    {
        foreach ((string name, object? value) in extra)
        {
            if (value is not null)
            {
                _details[name] = value;
            }
        }

        return AuditDetails.ToJson(_details);
    }
}
