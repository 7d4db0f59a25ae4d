using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;

namespace Quiver.Server.Security;

/// <summary>
/// What each kind of endpoint says of a model that does not exist, taken from the code that says it (catalog,
/// registry, repository load and unload), so another tenant's model reads exactly the same and the two cannot drift.
/// </summary>
public sealed class NotFoundMessages(ModelLifecycle lifecycle)
{
    /// <summary>The not-found message of <paramref name="resource"/> (<c>METHOD pattern</c> or <c>grpc Method</c>) for <paramref name="model"/>.</summary>
    public string For(string model, string resource)
    {
        if (resource.EndsWith("/load", StringComparison.Ordinal) || resource == "grpc RepositoryModelLoad")
        {
            return lifecycle.UnknownForLoadMessage(model);
        }

        if (resource.EndsWith("/unload", StringComparison.Ordinal) || resource == "grpc RepositoryModelUnload")
        {
            return ModelLifecycle.UnknownForUnloadMessage(model);
        }

        if (resource.Contains(" /v2/admin/rollouts/", StringComparison.Ordinal))
        {
            return RegistryException.NoRollout(model).Message;
        }

        // Drift is read from the served versions, the rest of the management API from the registry.
        return resource.Contains(" /v2/admin/models/", StringComparison.Ordinal) && !resource.Contains("/drift", StringComparison.Ordinal)
            ? RegistryException.UnknownModel(model).Message
            : ModelCatalog.UnknownModelMessage(model);
    }
}
