namespace Quiver.Core.Security;

/// <summary>
/// Credentials were presented and are not good (unknown, revoked or expired key; a JWT that fails validation; a client
/// certificate from another CA). The message helps the legitimate caller ("the token expired at ...") and never
/// contains the secret itself. Maps to 401 / UNAUTHENTICATED.
/// </summary>
public sealed class AuthenticationFailedException(string message) : Exception(message);
