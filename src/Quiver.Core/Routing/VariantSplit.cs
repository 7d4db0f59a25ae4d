using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Quiver.Core.Routing;

/// <summary>One variant of an endpoint: a name, the model and version (or alias) it serves, and its share of traffic in percent.</summary>
public sealed record Variant(string Name, string Model, string Version, double Weight);

/// <summary>
/// Picks a variant for each request by weight. With a routing key the pick is a hash of the endpoint and the key, so
/// a user stays on one variant across requests and across replicas as long as the weights stay; without one it is
/// weighted random.
/// </summary>
public sealed class VariantSplit
{
    /// <summary>The longest routing key taken, in UTF-8 bytes; longer keys are refused rather than hashed at any cost.</summary>
    public const int MaxRoutingKeyBytes = 256;

    private readonly string _endpoint;
    private readonly Variant[] _variants;
    private readonly double[] _cumulative;

    private VariantSplit(string endpoint, Variant[] variants)
    {
        _endpoint = endpoint;
        _variants = variants;
        _cumulative = new double[variants.Length];
        double total = 0;
        for (int i = 0; i < variants.Length; i++)
        {
            total += variants[i].Weight;
            _cumulative[i] = total / 100;
        }

        _cumulative[^1] = 1; // rounding never leaves a gap at the top
    }

    public IReadOnlyList<Variant> Variants => _variants;

    /// <summary>
    /// Checks and builds a split: at least one variant, unique names, weights not negative and summing to 100.
    /// Throws <see cref="ArgumentException"/> saying what is wrong.
    /// </summary>
    public static VariantSplit Create(string endpoint, IReadOnlyList<Variant> variants)
    {
        if (variants.Count == 0)
        {
            throw new ArgumentException($"endpoint '{endpoint}' needs at least one variant.");
        }

        if (variants.GroupBy(v => v.Name).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new ArgumentException($"endpoint '{endpoint}' names variant '{duplicate.Key}' twice.");
        }

        if (variants.FirstOrDefault(v => v.Weight < 0 || !double.IsFinite(v.Weight)) is { } negative)
        {
            throw new ArgumentException($"variant '{negative.Name}' has weight {negative.Weight}; weights are percentages from 0 to 100.");
        }

        double sum = variants.Sum(v => v.Weight);
        if (Math.Abs(sum - 100) > 1e-9)
        {
            throw new ArgumentException(
                $"the weights of endpoint '{endpoint}' sum to {sum}, not 100 ({string.Join(", ", variants.Select(v => $"{v.Name}: {v.Weight}"))}).");
        }

        return new VariantSplit(endpoint, [.. variants]);
    }

    /// <summary>The variant for a request: by its routing key when it has one, else at random by weight.</summary>
    /// <exception cref="ArgumentException">The key is binary or longer than <see cref="MaxRoutingKeyBytes"/> (see <see cref="CheckRoutingKey"/>).</exception>
    public Variant Pick(string? routingKey) => _variants[IndexOf(routingKey is null ? Random.Shared.NextDouble() : PointOf(routingKey))];

    // A point in [0, 1) from SHA-256 of the endpoint and the key: the same on every replica and every run.
    private double PointOf(string routingKey)
    {
        int keyBytes = CheckRoutingKey(routingKey);

        Span<byte> input = stackalloc byte[Encoding.UTF8.GetByteCount(_endpoint) + 1 + keyBytes];
        int written = Encoding.UTF8.GetBytes(_endpoint, input);
        input[written++] = 0;
        Encoding.UTF8.GetBytes(routingKey, input[written..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        return (BinaryPrimitives.ReadUInt64BigEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>
    /// A routing key is printable text (no control characters, no broken UTF-16) of at most
    /// <see cref="MaxRoutingKeyBytes"/> UTF-8 bytes: a user or session id, not a payload. Returns its byte count.
    /// </summary>
    /// <exception cref="ArgumentException">The key is binary or too long, saying which.</exception>
    public static int CheckRoutingKey(string routingKey)
    {
        for (int i = 0; i < routingKey.Length; i++)
        {
            char c = routingKey[i];
            bool pairedSurrogate = char.IsHighSurrogate(c) && i + 1 < routingKey.Length && char.IsLowSurrogate(routingKey[i + 1]);
            if (char.IsControl(c) || (char.IsSurrogate(c) && !pairedSurrogate))
            {
                throw new ArgumentException(
                    $"the routing key has a non-printable character (U+{(int)c:X4}) at position {i}; a routing key is printable text of at most {MaxRoutingKeyBytes} UTF-8 bytes.");
            }

            i += pairedSurrogate ? 1 : 0;
        }

        int keyBytes = Encoding.UTF8.GetByteCount(routingKey);
        if (keyBytes > MaxRoutingKeyBytes)
        {
            throw new ArgumentException($"the routing key is {keyBytes} bytes; a routing key is printable text of at most {MaxRoutingKeyBytes} UTF-8 bytes.");
        }

        return keyBytes;
    }

    private int IndexOf(double point)
    {
        for (int i = 0; i < _cumulative.Length; i++)
        {
            if (point < _cumulative[i] && _variants[i].Weight > 0)
            {
                return i;
            }
        }

        return Array.FindLastIndex(_variants, v => v.Weight > 0);
    }
}
