namespace Quiver.Core.Storage;

/// <summary>An artifact in the store, as the registry records it beside a model version.</summary>
/// <param name="Sha256">SHA-256 of the plaintext model in lowercase hex: the artifact's name.</param>
/// <param name="SizeBytes">Size of the plaintext model.</param>
/// <param name="Encrypted">Whether the file on disk is ciphertext; reading it then needs the wrapped key.</param>
/// <param name="KeyId">Id of the master key that wrapped <paramref name="WrappedKey"/>; null when there is no wrapped key.</param>
/// <param name="WrappedKey">
/// The artifact's data key wrapped by the master key, for the registry to keep (the store does not);
/// null when unencrypted, and when <paramref name="AlreadyStored"/> (reuse the key recorded for this sha256).
/// </param>
/// <param name="AlreadyStored">The same content was stored before; this put wrote nothing.</param>
/// <param name="ReplacedUnrecorded">
/// An encrypted file of the same content was there, but no version records its data key (a push that crashed before
/// registering left it): this put replaced it, so any copy of the old file elsewhere must be replaced too.
/// </param>
public sealed record StoredArtifact(
    string Sha256, long SizeBytes, bool Encrypted, string? KeyId, byte[]? WrappedKey, bool AlreadyStored = false, bool ReplacedUnrecorded = false);
