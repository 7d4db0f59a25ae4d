using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Quiver.Server.Tests.Security;

/// <summary>An identity provider made by the test: RSA and ECDSA signing keys, their JWKS, and tokens signed with them.</summary>
internal sealed class TestSigningKeys : IDisposable
{
    public const string Issuer = "https://idp.test/realms/quiver";
    public const string Audience = "quiver-api";

    private readonly List<(string Kid, AsymmetricAlgorithm Key)> _keys = [];

    /// <summary>Adds an RSA-2048 key with <paramref name="kid"/>; its public half goes in the JWKS.</summary>
    public RsaSecurityKey AddRsa(string kid)
    {
        var rsa = RSA.Create(2048);
        _keys.Add((kid, rsa));
        return new RsaSecurityKey(rsa) { KeyId = kid };
    }

    /// <summary>Adds a P-256 ECDSA key with <paramref name="kid"/>.</summary>
    public ECDsaSecurityKey AddEcdsa(string kid)
    {
        var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _keys.Add((kid, ecdsa));
        return new ECDsaSecurityKey(ecdsa) { KeyId = kid };
    }

    /// <summary>The JWKS of every key added so far: public parameters only.</summary>
    public string Jwks()
    {
        var keys = new JsonArray();
        foreach ((string kid, AsymmetricAlgorithm key) in _keys)
        {
            JsonWebKey jwk = key switch
            {
                RSA rsa => JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(rsa.ExportParameters(false)) { KeyId = kid }),
                ECDsa ecdsa => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(new ECDsaSecurityKey(ECDsa.Create(ecdsa.ExportParameters(false))) { KeyId = kid }),
                _ => throw new ArgumentException("unknown key type"),
            };
            var node = new JsonObject { ["kty"] = jwk.Kty, ["kid"] = kid, ["use"] = "sig" };
            foreach ((string name, string? value) in new[] { ("n", jwk.N), ("e", jwk.E), ("crv", jwk.Crv), ("x", jwk.X), ("y", jwk.Y) })
            {
                if (value is not null)
                {
                    node[name] = value;
                }
            }

            keys.Add(node);
        }

        return new JsonObject { ["keys"] = keys }.ToJsonString();
    }

    /// <summary>
    /// A token signed with <paramref name="key"/>: issuer, audience, sub and the given claims, valid from
    /// <paramref name="notBefore"/> to <paramref name="expires"/>.
    /// </summary>
    public static string Token(SecurityKey key, DateTimeOffset notBefore, DateTimeOffset expires, IDictionary<string, object>? claims = null,
        string issuer = Issuer, string audience = Audience, string? algorithm = null)
    {
        var all = new Dictionary<string, object> { ["sub"] = "alice" };
        foreach ((string name, object value) in claims ?? new Dictionary<string, object>())
        {
            all[name] = value;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = notBefore.UtcDateTime,
            NotBefore = notBefore.UtcDateTime,
            Expires = expires.UtcDateTime,
            Claims = all,
            SigningCredentials = new SigningCredentials(key, algorithm ?? (key is ECDsaSecurityKey ? SecurityAlgorithms.EcdsaSha256 : SecurityAlgorithms.RsaSha256)),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary>An unsigned token (<c>alg: none</c>, empty signature) with the given payload.</summary>
    public static string Unsigned(DateTimeOffset notBefore, DateTimeOffset expires, string kid) =>
        Encode(new { alg = "none", typ = "JWT", kid }) + "." +
        Encode(new { iss = Issuer, aud = Audience, sub = "mallory", roles = new[] { "admin" }, nbf = notBefore.ToUnixTimeSeconds(), exp = expires.ToUnixTimeSeconds() }) + ".";

    /// <summary>
    /// The classic key-confusion forgery: HS256 with the RSA public key's bytes as the HMAC secret, which a library
    /// that trusted the token's alg would verify with the published key.
    /// </summary>
    public static string HmacWithPublicKey(RsaSecurityKey rsa, DateTimeOffset notBefore, DateTimeOffset expires)
    {
        byte[] publicKey = rsa.Rsa.ExportSubjectPublicKeyInfo();
        var hmac = new SymmetricSecurityKey(publicKey) { KeyId = rsa.KeyId };
        return Token(hmac, notBefore, expires, new Dictionary<string, object> { ["roles"] = new[] { "admin" } }, algorithm: SecurityAlgorithms.HmacSha256);
    }

    private static string Encode(object value) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(value)));

    public void Dispose()
    {
        foreach ((_, AsymmetricAlgorithm key) in _keys)
        {
            key.Dispose();
        }
    }
}
