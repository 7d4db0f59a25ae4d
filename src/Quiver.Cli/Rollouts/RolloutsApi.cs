using System.Text.Json.Nodes;
using Quiver.Cli.Admin;

namespace Quiver.Cli.Rollouts;

/// <summary>The rollout, experiment and endpoint admin API (<c>/v2/admin/rollouts|experiments|endpoints/...</c>), one method per endpoint.</summary>
public static class RolloutsApi
{
    /// <summary>The hand actions on a rollout, each <c>POST /v2/admin/rollouts/{model}/{action}</c>.</summary>
    public static readonly IReadOnlyList<string> Actions = ["pause", "resume", "abort", "promote"];

    /// <summary><c>POST /v2/admin/rollouts</c> (201).</summary>
    public static Task<AdminReply<RolloutReply>> StartRolloutAsync(this AdminClient client, RolloutStart start, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<RolloutReply>(HttpMethod.Post, "v2/admin/rollouts", start.ToJson(), cancellationToken);

    /// <summary><c>GET /v2/admin/rollouts</c>: every model's latest rollout.</summary>
    public static Task<AdminReply<RolloutList>> ListRolloutsAsync(this AdminClient client, CancellationToken cancellationToken) =>
        client.GetAsync<RolloutList>("v2/admin/rollouts", cancellationToken);

    /// <summary><c>GET /v2/admin/rollouts/{model}</c>.</summary>
    public static Task<AdminReply<RolloutReply>> GetRolloutAsync(this AdminClient client, string model, CancellationToken cancellationToken) =>
        client.GetAsync<RolloutReply>(RolloutPath(model), cancellationToken);

    /// <summary><c>POST /v2/admin/rollouts/{model}/{action}</c>: one of <see cref="Actions"/>.</summary>
    public static Task<AdminReply<RolloutReply>> ActOnRolloutAsync(this AdminClient client, string model, string action, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<RolloutReply>(HttpMethod.Post, RolloutPath(model) + "/" + Uri.EscapeDataString(action), body: null, cancellationToken);

    /// <summary><c>GET /v2/admin/experiments/{endpoint}</c>.</summary>
    public static Task<AdminReply<ExperimentRecord>> GetExperimentAsync(this AdminClient client, string endpoint, CancellationToken cancellationToken) =>
        client.GetAsync<ExperimentRecord>(ExperimentPath(endpoint), cancellationToken);

    /// <summary><c>POST /v2/admin/experiments/{endpoint}/conclude</c>; without <paramref name="winner"/> the server's decision picks it.</summary>
    public static Task<AdminReply<ConcludedRecord>> ConcludeExperimentAsync(this AdminClient client, string endpoint, string? winner, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<ConcludedRecord>(HttpMethod.Post, ExperimentPath(endpoint) + "/conclude",
            winner is null ? null : new JsonObject { ["winner"] = winner }, cancellationToken);

    /// <summary><c>GET /v2/admin/endpoints</c>.</summary>
    public static Task<AdminReply<EndpointList>> ListEndpointsAsync(this AdminClient client, CancellationToken cancellationToken) =>
        client.GetAsync<EndpointList>("v2/admin/endpoints", cancellationToken);

    /// <summary><c>GET /v2/admin/endpoints/{name}</c>.</summary>
    public static Task<AdminReply<EndpointRecord>> GetEndpointAsync(this AdminClient client, string name, CancellationToken cancellationToken) =>
        client.GetAsync<EndpointRecord>(EndpointPath(name), cancellationToken);

    /// <summary><c>PUT /v2/admin/endpoints/{name}</c>: creates or replaces the endpoint (a redefined experiment starts afresh).</summary>
    public static Task<AdminReply<EndpointRecord>> SetEndpointAsync(this AdminClient client, string name, EndpointRequest definition, CancellationToken cancellationToken) =>
        client.SendAsActorAsync<EndpointRecord>(HttpMethod.Put, EndpointPath(name), definition.ToJson(), cancellationToken);

    /// <summary><c>DELETE /v2/admin/endpoints/{name}</c>; the server answers with no body.</summary>
    public static Task RemoveEndpointAsync(this AdminClient client, string name, CancellationToken cancellationToken) =>
        client.SendAsActorAsync(HttpMethod.Delete, EndpointPath(name), body: null, cancellationToken);

    private static string RolloutPath(string model) => "v2/admin/rollouts/" + Uri.EscapeDataString(model);

    private static string ExperimentPath(string endpoint) => "v2/admin/experiments/" + Uri.EscapeDataString(endpoint);

    private static string EndpointPath(string name) => "v2/admin/endpoints/" + Uri.EscapeDataString(name);
}
