namespace Quiver.Server.Security;

/// <summary>
/// Endpoint metadata: the endpoint checks the model's tenant itself, at the point where it would find a missing model
/// (inference: after the body is decoded; the management routes that read a body or a version first: where they look
/// the model up), so a bad request about another tenant's model fails as it would for a model that does not exist.
/// <see cref="SecurityMiddleware"/> leaves the check to it.
/// </summary>
public sealed class TenantCheckedByEndpoint
{
    public static TenantCheckedByEndpoint Instance { get; } = new();

    private TenantCheckedByEndpoint()
    {
    }
}
