using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Registry;
using Quiver.Core.Security;
using Quiver.Core.Storage;
using Quiver.Server.Audit;
using Quiver.Server.Security;

namespace Quiver.Server.Rest;

/// <summary>
/// The model management API under <c>/v2/admin/models</c>: push versions, list and show them, move aliases, promote,
/// roll back, retire, read the history. Every change is made in the registry and then applied on this server at once;
/// other replicas follow the registry. <c>quiver models</c> is its client.
/// </summary>
internal static class AdminEndpoints
{
    /// <summary>The header naming who makes a change, recorded in the alias history.</summary>
    public const string ActorHeader = "X-Quiver-Actor";

    public static void MapAdmin(this IEndpointRouteBuilder routes, ModelLifecycle lifecycle, QuiverServerOptions options)
    {
        IModelRegistry registry = lifecycle.Registry;
        routes.MapGet("/v2/admin/models", async (HttpContext context) =>
        {
            var models = new List<ModelView>();
            Principal principal = context.Features.Get<Principal>() ?? Principal.Anonymous;
            foreach (RegisteredModel model in await registry.GetModelsAsync(context.RequestAborted))
            {
                if (!principal.CanSee(model.Tenant))
                {
                    continue;
                }

                models.Add(await ModelView.ReadAsync(registry, model, context.RequestAborted));
            }

            await WriteAsync(context, 200, w =>
            {
                w.WriteStartArray("models");
                models.ForEach(m => m.Write(w));
                w.WriteEndArray();
            });
        });

        routes.MapGet("/v2/admin/models/{model}", async (HttpContext context, string model) =>
        {
            RegisteredModel found = await RequireModelAsync(context, registry, model);
            ModelView view = await ModelView.ReadAsync(registry, found, context.RequestAborted);
            IReadOnlyList<ReplicaVersionState> replicas = await registry.GetReplicaStatesAsync(model, context.RequestAborted);
            IReadOnlyList<AliasChange> history = await registry.GetAliasHistoryAsync(model, null, context.RequestAborted);
            await WriteAsync(context, 200, w =>
            {
                view.WriteProperties(w);
                w.WriteStartArray("replicas");
                foreach (ReplicaVersionState replica in replicas)
                {
                    w.WriteStartObject();
                    w.WriteString("replica", replica.Replica);
                    w.WriteNumber("version", replica.Version);
                    w.WriteString("state", StateName(replica.State));
                    w.WriteString("reason", replica.Reason);
                    w.WriteString("updated_at", replica.UpdatedAt);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("serving");
                foreach (ModelVersionStatus status in lifecycle.Catalog.Models.GetValueOrDefault(model) ?? [])
                {
                    w.WriteStartObject();
                    w.WriteString("replica", lifecycle.Replica);
                    w.WriteNumber("version", status.Version);
                    w.WriteString("state", status.State.ToString().ToLowerInvariant());
                    w.WriteString("reason", status.Reason);
                    w.WriteStartArray("execution_providers");
                    foreach (string provider in status.Model?.ExecutionProviders ?? [])
                    {
                        w.WriteStringValue(provider);
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                WriteHistory(w, "history", history);
            });
        });

        // Routes that read a body or a version before they find the model are TenantCheckedByEndpoint: they check the
        // tenant where a missing model is found (RequireModelAsync), so both answer alike to a malformed request.
        routes.MapGet("/v2/admin/models/{model}/versions/{version}", async (HttpContext context, string model, string version) =>
        {
            RegisteredVersion found = await RequireVersionAsync(context, registry, model, version);
            IReadOnlyDictionary<string, long> aliases = await registry.GetAliasesAsync(model, context.RequestAborted);
            await WriteAsync(context, 200, w => WriteVersionProperties(w, found, aliases));
        }).WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapPost("/v2/admin/models/{model}/versions", async (HttpContext context, string model) =>
        {
            // A model may be far larger than an inference request; the artifact store bounds it instead.
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = ArtifactStore.MaxArtifactBytes;
            }

            PushRequest request = ReadPush(context.Request.Query, model, Actor(context)) with
            {
                Tenant = PushTenant(context),
                OptimizationReport = ReadReportHeader(context.Request.Headers["X-Quiver-Optimization-Report"].ToString()),
            };
            PushResult result = await lifecycle.Publisher.PushAsync(context.Request.Body, request, context.RequestAborted);
            await lifecycle.ReconcileAsync(model, context.RequestAborted);
            AuditScope.Note(context, "version", result.Version.Version);
            AuditScope.Note(context, "sha256", result.Version.Sha256);
            AuditScope.Note(context, "existing", result.Existing);
            AuditScope.Note(context, "allowed_regions", result.Version.AllowedRegions);
            await WriteAsync(context, result.Existing ? 200 : 201, w =>
            {
                w.WriteString("model", model);
                w.WriteNumber("version", result.Version.Version);
                w.WriteString("sha256", result.Version.Sha256);
                w.WriteNumber("size_bytes", result.Version.SizeBytes);
                w.WriteBoolean("already_stored", result.AlreadyStored);
                w.WriteBoolean("existing", result.Existing);
                w.WriteString("alias", request.Alias);
                w.WriteString("state", StateName(StateNow(lifecycle, model, result.Version)));
                w.WriteStartArray("warnings");
                w.WriteEndArray();
                w.WriteStartArray("signature_changes");
                foreach (string change in result.SignatureChanges)
                {
                    w.WriteStringValue(change);
                }

                w.WriteEndArray();
            });
        }).Audited("models.push", "models/{model}");

        routes.MapPut("/v2/admin/models/{model}/aliases/{alias}", async (HttpContext context, string model, string alias) =>
        {
            long version = await ReadVersionFieldAsync(context, options);
            await MoveAliasAsync(context, lifecycle, model, alias, () => registry.SetAliasAsync(model, alias, version, Actor(context), context.RequestAborted));
        }).Audited("models.alias.set", "models/{model}/aliases/{alias}").WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapDelete("/v2/admin/models/{model}/aliases/{alias}", async (HttpContext context, string model, string alias) =>
            await MoveAliasAsync(context, lifecycle, model, alias, () => registry.RemoveAliasAsync(model, alias, Actor(context), context.RequestAborted)))
            .Audited("models.alias.delete", "models/{model}/aliases/{alias}");

        routes.MapPost("/v2/admin/models/{model}/promote", async (HttpContext context, string model) =>
        {
            long version = await ReadVersionFieldAsync(context, options);
            await MoveAliasAsync(context, lifecycle, model, ModelCatalog.DefaultAlias,
                () => registry.SetAliasAsync(model, ModelCatalog.DefaultAlias, version, Actor(context), context.RequestAborted));
        }).Audited("models.promote", "models/{model}").WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapPost("/v2/admin/models/{model}/rollback", async (HttpContext context, string model) =>
        {
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            string alias = ModelCatalog.DefaultAlias;
            if (body?.RootElement.TryGetProperty("alias", out JsonElement given) == true)
            {
                alias = given.ValueKind == JsonValueKind.String ? given.GetString()! : throw RegistryException.Invalid("\"alias\" must be a string, e.g. \"production\".");
            }

            await MoveAliasAsync(context, lifecycle, model, alias, () => registry.RollbackAliasAsync(model, alias, Actor(context), context.RequestAborted));
        }).Audited("models.rollback", "models/{model}").WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapPost("/v2/admin/models/{model}/versions/{version}/retire", async (HttpContext context, string model, string version) =>
        {
            RegisteredVersion found = await RequireVersionAsync(context, registry, model, version);
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            string? reason = null;
            if (body?.RootElement.TryGetProperty("reason", out JsonElement given) == true)
            {
                reason = given.ValueKind == JsonValueKind.String ? given.GetString() : throw RegistryException.Invalid("\"reason\" must be a string.");
            }

            RegisteredVersion retired = await registry.RetireVersionAsync(model, found.Version, reason, context.RequestAborted);
            await lifecycle.ReconcileAsync(model, context.RequestAborted);
            IReadOnlyDictionary<string, long> aliases = await registry.GetAliasesAsync(model, context.RequestAborted);
            await WriteAsync(context, 200, w => WriteVersionProperties(w, retired, aliases));
        }).Audited("models.retire", "models/{model}/versions/{version}").WithMetadata(TenantCheckedByEndpoint.Instance);

        // Blue-green: the new version takes all traffic at once while the old one stays loaded and warm behind the
        // "standby" alias (alias targets are always loaded), for an instant rollback until finalize.
        routes.MapPost("/v2/admin/models/{model}/bluegreen", async (HttpContext context, string model) =>
        {
            long version = await ReadVersionFieldAsync(context, options);
            await RequireModelAsync(context, registry, model);
            string number = version.ToString(CultureInfo.InvariantCulture);
            if (lifecycle.Catalog.Find(model, number, out Quiver.Core.Tensors.InferenceError? notReady) is null)
            {
                throw notReady!.Kind == Quiver.Core.Tensors.ErrorKind.NotFound
                    ? RegistryException.NotFound(notReady.Message)
                    : RegistryException.Conflict($"version {version} must be loaded and warm before it takes traffic: {notReady.Message}");
            }

            ServedModel live = lifecycle.Catalog.Find(model, null, out _)
                ?? throw RegistryException.Conflict($"model '{model}' serves no version to keep as the standby.");
            if (live.Version == version)
            {
                throw RegistryException.Invalid($"version {version} already takes model '{model}''s traffic.");
            }

            await registry.SetAliasAsync(model, Standby, live.Version, Actor(context), context.RequestAborted);
            await registry.SetAliasAsync(model, ModelCatalog.DefaultAlias, version, Actor(context), context.RequestAborted);
            await WriteBlueGreenAsync(context, lifecycle, model);
        }).Audited("models.bluegreen.start", "models/{model}").WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapPost("/v2/admin/models/{model}/bluegreen/{action}", async (HttpContext context, string model, string action) =>
        {
            if (action is not ("rollback" or "finalize"))
            {
                throw RegistryException.Invalid($"unknown blue-green action '{action}': use rollback or finalize.");
            }

            await RequireModelAsync(context, registry, model);
            IReadOnlyDictionary<string, long> aliases = await registry.GetAliasesAsync(model, context.RequestAborted);
            if (!aliases.TryGetValue(Standby, out long standby) || !aliases.TryGetValue(ModelCatalog.DefaultAlias, out long live))
            {
                throw RegistryException.Conflict($"model '{model}' has no blue-green switch in progress (no '{Standby}' alias).");
            }

            switch (action)
            {
                case "rollback":
                    // The versions swap places, so the switch can be made again just as fast.
                    await registry.SetAliasAsync(model, ModelCatalog.DefaultAlias, standby, Actor(context), context.RequestAborted);
                    await registry.SetAliasAsync(model, Standby, live, Actor(context), context.RequestAborted);
                    break;
                default:
                    await registry.RemoveAliasAsync(model, Standby, Actor(context), context.RequestAborted);
                    break;
            }

            await WriteBlueGreenAsync(context, lifecycle, model);
        }).Audited("models.bluegreen.{action}", "models/{model}").WithMetadata(TenantCheckedByEndpoint.Instance);

        routes.MapGet("/v2/admin/models/{model}/history", async (HttpContext context, string model) =>
        {
            await RequireModelAsync(context, registry, model);
            IReadOnlyList<AliasChange> history = await registry.GetAliasHistoryAsync(model, null, context.RequestAborted);
            await WriteAsync(context, 200, w => WriteHistory(w, "changes", history));
        });
    }

    private const string Standby = "standby";

    private static async Task WriteBlueGreenAsync(HttpContext context, ModelLifecycle lifecycle, string model)
    {
        await lifecycle.ReconcileAsync(model, context.RequestAborted);
        IReadOnlyDictionary<string, long> aliases = await lifecycle.Registry.GetAliasesAsync(model, context.RequestAborted);
        await WriteAsync(context, 200, w =>
        {
            w.WriteString("model", model);
            WriteNullableNumber(w, "live", aliases.TryGetValue(ModelCatalog.DefaultAlias, out long live) ? live : null);
            WriteNullableNumber(w, "standby", aliases.TryGetValue(Standby, out long standby) ? standby : null);
        });
    }

    // Moves an alias, applies it here at once, and answers with where it points now and where it pointed before.
    private static async Task MoveAliasAsync(HttpContext context, ModelLifecycle lifecycle, string model, string alias, Func<Task> move)
    {
        IModelRegistry registry = lifecycle.Registry;
        await RequireModelAsync(context, registry, model);
        long? before = (await registry.GetAliasesAsync(model, context.RequestAborted)).TryGetValue(alias, out long b) ? b : null;
        await move();
        await lifecycle.ReconcileAsync(model, context.RequestAborted);
        long? after = (await registry.GetAliasesAsync(model, context.RequestAborted)).TryGetValue(alias, out long a) ? a : null;
        AuditScope.Note(context, "version", after);
        AuditScope.Note(context, "previous_version", before);
        await WriteAsync(context, 200, w =>
        {
            w.WriteString("model", model);
            w.WriteString("alias", alias);
            WriteNullableNumber(w, "version", after);
            WriteNullableNumber(w, "previous_version", before);
            if (after is { } version && lifecycle.Catalog.Status(model, version.ToString(CultureInfo.InvariantCulture)) is { } status)
            {
                w.WriteString("state_here", status.State.ToString().ToLowerInvariant());
                w.WriteString("reason_here", status.Reason);
            }
        });
    }

    private static PushRequest ReadPush(IQueryCollection query, string model, string actor)
    {
        string? Text(string key) => query.TryGetValue(key, out var value) && !string.IsNullOrEmpty(value.ToString()) ? value.ToString() : null;
        bool force = Text("force") switch
        {
            null or "false" or "0" => false,
            "true" or "1" => true,
            string other => throw RegistryException.Invalid($"force must be true or false, got '{other}'."),
        };

        return new PushRequest
        {
            Model = model,
            Bundle = ModelBundle.FromConfigJson(Text("config")),
            Alias = Text("alias"),
            Force = force,
            Description = Text("description"),
            Creator = Text("creator") ?? actor,
            Tags = Text("tags")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
            SourceUri = Text("source_uri"),
            TrainingRunId = Text("training_run_id"),
            AllowedRegions = Text("regions") is { } regions ? RegionsOf(regions) : null,
            DerivedFrom = Text("derived_from") switch
            {
                null => null,
                string text when long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long parent) && parent > 0 => parent,
                string other => throw RegistryException.Invalid($"derived_from must be a version number, got '{other}'."),
            },
        };
    }

    // The report rides in a header (it can outgrow a URL), base64 of UTF-8 JSON; the publisher checks it is an object.
    private static string? ReadReportHeader(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }

        try
        {
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(value));
        }
        catch (FormatException)
        {
            throw RegistryException.Invalid("the X-Quiver-Optimization-Report header must be base64 of a JSON object.");
        }
    }

    private static IReadOnlyList<string> RegionsOf(string list)
    {
        try
        {
            return DataResidency.ParseList(list);
        }
        catch (FormatException e)
        {
            throw RegistryException.Invalid(e.Message);
        }
    }

    private static async Task<long> ReadVersionFieldAsync(HttpContext context, QuiverServerOptions options)
    {
        using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
        long asked = body?.RootElement.TryGetProperty("version", out JsonElement version) == true
            && version.ValueKind == JsonValueKind.Number && version.TryGetInt64(out long number) && number > 0
            ? number
            : throw RegistryException.Invalid("the body must be a JSON object with \"version\": a positive integer, e.g. {\"version\": 3}.");
        AuditScope.Note(context, "version", asked);
        return asked;
    }

    // Another tenant's model fails here, where a missing one does: the routes marked TenantCheckedByEndpoint rely on it.
    private static async Task<RegisteredModel> RequireModelAsync(HttpContext context, IModelRegistry registry, string model) =>
        (await registry.GetModelsAsync(context.RequestAborted)).FirstOrDefault(m => m.Name == model) is { } found
            && await ModelVisibility.AllowsAsync(context, model)
            ? found
            : throw RegistryException.UnknownModel(model);

    private static async Task<RegisteredVersion> RequireVersionAsync(HttpContext context, IModelRegistry registry, string model, string version)
    {
        if (!long.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out long number) || number <= 0)
        {
            throw RegistryException.Invalid($"version '{version}' is not a positive integer.");
        }

        await RequireModelAsync(context, registry, model);
        return await registry.GetVersionAsync(model, number, context.RequestAborted)
            ?? throw RegistryException.NotFound($"model '{model}' has no version {number}.");
    }

    private static VersionState StateNow(ModelLifecycle lifecycle, string model, RegisteredVersion version) =>
        lifecycle.Catalog.Status(model, version.Version.ToString(CultureInfo.InvariantCulture)) switch
        {
            { State: ModelState.Ready } => VersionState.Ready,
            { State: ModelState.Failed } => VersionState.Failed,
            _ => version.State,
        };

    // An authenticated caller is recorded as who it proved to be; the header is only trusted without authentication.
    private static string Actor(HttpContext context) =>
        context.Features.Get<Principal>() is { Method: not "anonymous" } principal ? principal.Name
        : context.Request.Headers[ActorHeader].ToString() is { Length: > 0 } actor ? actor : "api";

    // The owner of a model a push creates: the pusher's tenant; a pusher without one (an admin) may name one (?tenant=).
    private static string? PushTenant(HttpContext context)
    {
        string? named = context.Request.Query["tenant"].ToString() is { Length: > 0 } text ? text : null;
        if (named is not null && !TenantNames.IsValid(named))
        {
            throw RegistryException.Invalid($"tenant '{named}' is not a valid name: use 1-64 letters, digits, '.', '_' or '-'.");
        }

        string? own = (context.Features.Get<Principal>() ?? Principal.Anonymous).Tenant;
        if (own is not null && named is not null && named != own)
        {
            throw RegistryException.Invalid($"you are scoped to tenant '{own}' and cannot push a model for tenant '{named}'.");
        }

        return own ?? named;
    }

    internal static string StateName(VersionState state) => state.ToString().ToLowerInvariant();

    internal static void WriteVersionProperties(Utf8JsonWriter w, RegisteredVersion version, IReadOnlyDictionary<string, long> aliases)
    {
        w.WriteNumber("version", version.Version);
        w.WriteString("sha256", version.Sha256);
        w.WriteNumber("size_bytes", version.SizeBytes);
        w.WriteString("framework", version.Framework);
        w.WriteString("state", StateName(version.State));
        w.WriteString("reason", version.Reason);
        w.WriteString("creator", version.Creator);
        w.WriteString("created_at", version.CreatedAt);
        w.WriteString("description", version.Description);
        w.WriteStartArray("tags");
        foreach (string tag in version.Tags)
        {
            w.WriteStringValue(tag);
        }

        w.WriteEndArray();
        w.WriteString("source_uri", version.SourceUri);
        w.WriteString("training_run_id", version.TrainingRunId);
        WriteNullableNumber(w, "derived_from", version.DerivedFrom);
        w.WritePropertyName("optimization_report");
        if (version.OptimizationReport is { } report)
        {
            w.WriteRawValue(report);
        }
        else
        {
            w.WriteNullValue();
        }

        WriteRawJson(w, "inputs", version.InputSignature);
        WriteRawJson(w, "outputs", version.OutputSignature);
        w.WriteBoolean("encrypted", version.WrappedDataKey is not null);
        if (version.AllowedRegions is { } regions)
        {
            w.WriteStartArray("allowed_regions");
            foreach (string region in regions)
            {
                w.WriteStringValue(region);
            }

            w.WriteEndArray();
        }
        else
        {
            w.WriteNull("allowed_regions");
        }
        w.WriteStartArray("aliases");
        foreach ((string alias, _) in aliases.Where(a => a.Value == version.Version).OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            w.WriteStringValue(alias);
        }

        w.WriteEndArray();
    }

    private static void WriteHistory(Utf8JsonWriter w, string name, IReadOnlyList<AliasChange> history)
    {
        w.WriteStartArray(name);
        foreach (AliasChange change in history)
        {
            w.WriteStartObject();
            w.WriteString("alias", change.Alias);
            WriteNullableNumber(w, "version", change.Version);
            WriteNullableNumber(w, "previous_version", change.PreviousVersion);
            w.WriteString("changed_at", change.ChangedAt);
            w.WriteString("changed_by", change.ChangedBy);
            w.WriteBoolean("rollback", change.IsRollback);
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteRawJson(Utf8JsonWriter w, string name, string? json)
    {
        w.WritePropertyName(name);
        if (json is null)
        {
            w.WriteStartArray();
            w.WriteEndArray();
        }
        else
        {
            w.WriteRawValue(json);
        }
    }

    private static void WriteNullableNumber(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } number)
        {
            w.WriteNumber(name, number);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    /// <summary>Writes one JSON object whose properties <paramref name="writeProperties"/> writes.</summary>
    internal static Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> writeProperties) =>
        V2Endpoints.WriteJsonAsync(context, status, buffer =>
        {
            using var w = new Utf8JsonWriter(buffer);
            w.WriteStartObject();
            writeProperties(w);
            w.WriteEndObject();
        });

    /// <summary>A model with its aliases and versions, as the list and the detail show it.</summary>
    private sealed record ModelView(RegisteredModel Model, IReadOnlyDictionary<string, long> Aliases, IReadOnlyList<RegisteredVersion> Versions)
    {
        public static async Task<ModelView> ReadAsync(IModelRegistry registry, RegisteredModel model, CancellationToken cancellationToken) =>
            new(model, await registry.GetAliasesAsync(model.Name, cancellationToken), await registry.GetVersionsAsync(model.Name, cancellationToken));

        public void Write(Utf8JsonWriter w)
        {
            w.WriteStartObject();
            WriteProperties(w);
            w.WriteEndObject();
        }

        public void WriteProperties(Utf8JsonWriter w)
        {
            w.WriteString("name", Model.Name);
            w.WriteString("description", Model.Description);
            w.WriteString("created_at", Model.CreatedAt);
            w.WriteStartObject("aliases");
            foreach ((string alias, long version) in Aliases.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                w.WriteNumber(alias, version);
            }

            w.WriteEndObject();
            WriteNullableNumber(w, "latest_version", Versions.Count == 0 ? null : Versions[^1].Version);
            w.WriteStartArray("versions");
            foreach (RegisteredVersion version in Versions)
            {
                w.WriteStartObject();
                WriteVersionProperties(w, version, Aliases);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }
    }
}
