using Microsoft.AspNetCore.Http;
using Quiver.Core.Registry;
using Quiver.Core.Security;

namespace Quiver.Server.Security;

/// <summary>
/// Which models the request's principal may see: a tenant's principal sees its own tenant's models and the shared
/// ones, never another tenant's. Set on the request by <see cref="SecurityMiddleware"/> when authentication is on;
/// absent (everything visible) when it is off. The registry is read at each call, so an owner set by a push that just
/// committed is honoured at once.
/// </summary>
public sealed class ModelVisibility(Principal principal, IModelRegistry registry, NotFoundMessages messages)
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

    /// <summary>False when the model belongs to a tenant the principal is not in; true for shared and unknown models.</summary>
    public async ValueTask<bool> CanSeeAsync(string model, CancellationToken cancellationToken)
    {
        if (Principal.Tenant is null)
        {
            return true;
        }

        RegisteredModel? found = await registry.GetModelAsync(model, cancellationToken);
        return found is null || Principal.CanSee(found.Tenant);
    }

    /// <summary>A predicate for filtering lists: true for the names this principal may see (one registry read).</summary>
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
}
