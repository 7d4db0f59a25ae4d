using Microsoft.AspNetCore.Http;
using Quiver.Core.Registry;
using Quiver.Core.Routing;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Which models the request's principal may see: a tenant's principal sees its own tenant's models and the shared
/// ones, never another tenant's, and only the traffic endpoints whose every target model it sees. Set on the request
/// by <see cref="SecurityMiddleware"/> when authentication is on; absent (everything visible) when it is off. The
/// registry is read at each call, so an owner set by a push that just committed is honoured at once.
/// </summary>
public sealed class ModelVisibility(Principal principal, IModelRegistry registry, EndpointTable endpoints, NotFoundMessages messages)
{
    /// <summary>Whose visibility this is.</summary>
    public Principal Principal { get; } = principal;

    /// <summary>The visibility of this request's principal; null when every model is visible.</summary>
    public static ModelVisibility? Of(HttpContext context)
    {
        ModelVisibility? visibility = context.Features.Get<ModelVisibility>();
        return visibility?.Principal.Tenant is null ? null : visibility;
    }

    /// <summary>The names the request's principal may see, for filtering a list; everything when there is no tenant scope.</summary>
    public static ValueTask<Func<string, bool>> FilterAsync(HttpContext context) =>
        Of(context) is { } visibility ? visibility.VisibleAsync(context.RequestAborted) : ValueTask.FromResult<Func<string, bool>>(_ => true);

    /// <summary>
    /// Whether the request's principal may see the model or endpoint <paramref name="name"/>; a refusal is audited, so
    /// the endpoint only has to answer as it does for a name that does not exist.
    /// </summary>
    public static async ValueTask<bool> AllowsAsync(HttpContext context, string name)
    {
        if (Of(context) is not { } visibility || await visibility.CanSeeAsync(name, context.RequestAborted))
        {
            return true;
        }

        PolicyTable.For(context, out string resource);
        await SecurityAudit.RecordAsync(context, SecurityAudit.HiddenModel(visibility.Principal, resource, name));
        return false;
    }

    /// <summary>Whether an endpoint shows in a list filtered by <paramref name="visible"/>: its name and every model it sends to are visible.</summary>
    public static bool Shows(string name, ServingEndpoint endpoint, Func<string, bool> visible) =>
        visible(name) && endpoint.TargetModels.All(visible);

    /// <summary>
    /// False when <paramref name="name"/> is a model of a tenant the principal is not in, or an endpoint that sends
    /// requests to one; true for shared and unknown models.
    /// </summary>
    public async ValueTask<bool> CanSeeAsync(string name, CancellationToken cancellationToken)
    {
        if (Principal.Tenant is null)
        {
            return true;
        }

        if (!await CanSeeModelAsync(name, cancellationToken))
        {
            return false;
        }

        if (endpoints.TryGet(name, out ServingEndpoint? endpoint))
        {
            foreach (string model in endpoint.TargetModels.Distinct(StringComparer.Ordinal))
            {
                if (model != name && !await CanSeeModelAsync(model, cancellationToken))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>A predicate for filtering lists: true for the model names this principal may see (one registry read).</summary>
    public async ValueTask<Func<string, bool>> VisibleAsync(CancellationToken cancellationToken)
    {
        if (Principal.Tenant is null)
        {
            return _ => true;
        }

        HashSet<string> hidden = (await registry.GetModelsAsync(cancellationToken))
            .Where(m => !Principal.CanSee(m.Tenant)).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        return name => !hidden.Contains(name);
    }

    /// <summary>What the principal is told for a model it may not see: the very words <paramref name="resource"/> uses for a model that does not exist.</summary>
    public string NotFoundMessage(string model, string resource) => messages.For(model, resource);

    private async ValueTask<bool> CanSeeModelAsync(string model, CancellationToken cancellationToken)
    {
        RegisteredModel? found = await registry.GetModelAsync(model, cancellationToken);
        return found is null || Principal.CanSee(found.Tenant);
    }
}
