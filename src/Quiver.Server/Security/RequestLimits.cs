using System.Globalization;
using System.Text.Json;

namespace Quiver.Server.Security;

/// <summary>
/// One caller's allowance: a token bucket (<see cref="RequestsPerSecond"/> refilled, <see cref="Burst"/> at most) and
/// a cap on requests in flight. A null field is no limit of that kind.
/// </summary>
public sealed record LimitSettings(double? RequestsPerSecond = null, double? Burst = null, int? MaxConcurrent = null)
{
    /// <summary>No limit at all.</summary>
    public static LimitSettings None { get; } = new();

    /// <summary>The bucket's size: <see cref="Burst"/>, or one second's worth of requests (at least 1) when not given.</summary>
    public double BucketSize => Burst ?? Math.Max(1, RequestsPerSecond ?? 1);

    /// <summary>These settings with every field <paramref name="overrides"/> gives replaced.</summary>
    public LimitSettings With(LimitSettings? overrides) => overrides is null ? this : new(
        overrides.RequestsPerSecond ?? RequestsPerSecond, overrides.Burst ?? Burst, overrides.MaxConcurrent ?? MaxConcurrent);
}

/// <summary>
/// The rate and concurrency limits of <c>quiver serve --limits-file</c>: defaults for every principal and every tenant,
/// and overrides by principal name or tenant name. Each request counts against its principal and, when the principal
/// belongs to one, its tenant. Without a file nothing is limited.
/// </summary>
public sealed record RequestLimits
{
    /// <summary>The limits of each principal without an override.</summary>
    public LimitSettings Principal { get; init; } = LimitSettings.None;

    /// <summary>The limits of each tenant (all its principals together) without an override.</summary>
    public LimitSettings Tenant { get; init; } = LimitSettings.None;

    /// <summary>Overrides by principal name; fields not given fall back to <see cref="Principal"/>.</summary>
    public IReadOnlyDictionary<string, LimitSettings> Principals { get; init; } = new Dictionary<string, LimitSettings>();

    /// <summary>Overrides by tenant name; fields not given fall back to <see cref="Tenant"/>.</summary>
    public IReadOnlyDictionary<string, LimitSettings> Tenants { get; init; } = new Dictionary<string, LimitSettings>();

    /// <summary>Nothing limited: the default without a limits file.</summary>
    public static RequestLimits None { get; } = new();

    /// <summary>Whether any limit is set, so the middleware is worth running.</summary>
    public bool Any => IsSet(Principal) || IsSet(Tenant) || Principals.Values.Any(IsSet) || Tenants.Values.Any(IsSet);

    public LimitSettings ForPrincipal(string name) => Principal.With(Principals.GetValueOrDefault(name));

    public LimitSettings ForTenant(string tenant) => Tenant.With(Tenants.GetValueOrDefault(tenant));

    /// <summary>Reads a limits file; every problem is reported together in one <see cref="FormatException"/>.</summary>
    public static RequestLimits Parse(string json)
    {
        var errors = new List<string>();
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(json).RootElement;
        }
        catch (JsonException e)
        {
            throw new FormatException($"the limits file is not valid JSON: {e.Message}");
        }

        var limits = new RequestLimits();
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the limits file must be a JSON object such as {\"principal\": {\"requests_per_second\": 50, \"burst\": 100, \"max_concurrent\": 8}}");
        }

        foreach (JsonProperty property in root.EnumerateObject())
        {
            switch (property.Name)
            {
                case "principal":
                    limits = limits with { Principal = ReadSettings(property.Value, "principal", errors) };
                    break;
                case "tenant":
                    limits = limits with { Tenant = ReadSettings(property.Value, "tenant", errors) };
                    break;
                case "principals" or "tenants" when property.Value.ValueKind == JsonValueKind.Object:
                    var map = property.Value.EnumerateObject()
                        .ToDictionary(p => p.Name, p => ReadSettings(p.Value, $"{property.Name}.{p.Name}", errors), StringComparer.Ordinal);
                    limits = property.Name == "principals" ? limits with { Principals = map } : limits with { Tenants = map };
                    break;
                case "principals" or "tenants":
                    errors.Add($"'{property.Name}' must map names to limits, e.g. {{\"acme\": {{\"requests_per_second\": 100}}}}");
                    break;
                default:
                    errors.Add($"unknown setting '{property.Name}' (known: principal, tenant, principals, tenants)");
                    break;
            }
        }

        return errors.Count == 0 ? limits : throw new FormatException("limits file: " + string.Join("; ", errors) + ".");
    }

    private static LimitSettings ReadSettings(JsonElement value, string where, List<string> errors)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"'{where}' must be an object with requests_per_second, burst and/or max_concurrent");
            return LimitSettings.None;
        }

        var settings = LimitSettings.None;
        foreach (JsonProperty field in value.EnumerateObject())
        {
            bool positive = field.Value.TryGetDouble(out double number) && number > 0 && double.IsFinite(number);
            switch (field.Name)
            {
                case "requests_per_second" when positive:
                    settings = settings with { RequestsPerSecond = number };
                    break;
                case "burst" when positive && number >= 1:
                    settings = settings with { Burst = number };
                    break;
                case "max_concurrent" when positive && number == Math.Floor(number) && number <= int.MaxValue:
                    settings = settings with { MaxConcurrent = (int)number };
                    break;
                case "requests_per_second" or "burst" or "max_concurrent":
                    errors.Add($"'{where}.{field.Name}' must be a positive number{(field.Name == "max_concurrent" ? " (an integer)" : field.Name == "burst" ? " of at least 1" : "")}, got {field.Value.GetRawText()}");
                    break;
                default:
                    errors.Add($"unknown setting '{where}.{field.Name}' (known: requests_per_second, burst, max_concurrent)");
                    break;
            }
        }

        if (settings.Burst is not null && settings.RequestsPerSecond is null)
        {
            errors.Add($"'{where}.burst' needs '{where}.requests_per_second': the burst is the size of the bucket it refills");
        }

        return settings;
    }

    private static bool IsSet(LimitSettings s) => s.RequestsPerSecond is not null || s.MaxConcurrent is not null;

    /// <summary>A short description for the start-up log line.</summary>
    public override string ToString() =>
        $"principal {Describe(Principal)}, tenant {Describe(Tenant)}, {Principals.Count} principal and {Tenants.Count} tenant overrides";

    internal static string Describe(LimitSettings s) =>
        !IsSet(s) ? "unlimited" : string.Join(", ", new[]
        {
            s.RequestsPerSecond is { } r ? string.Create(CultureInfo.InvariantCulture, $"{r:0.###} requests/s (burst {s.BucketSize:0.###})") : null,
            s.MaxConcurrent is { } c ? string.Create(CultureInfo.InvariantCulture, $"{c} in flight") : null,
        }.Where(x => x is not null));
}
