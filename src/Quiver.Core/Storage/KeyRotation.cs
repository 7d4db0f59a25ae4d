using System.Security.Cryptography;

namespace Quiver.Core.Storage;

/// <summary>Moves wrapped data keys from one master key to another; artifact files are not read or written.</summary>
public static class KeyRotation
{
    /// <summary>
    /// Re-wraps every data key under <paramref name="newKey"/>, all or nothing: one key that <paramref name="oldKey"/>
    /// does not open throws before any result exists, so the caller has nothing half-applied. Keys already under
    /// <paramref name="newKey"/> (a rotation re-run after a partial apply) come back unchanged.
    /// </summary>
    /// <exception cref="ArtifactKeyException">A wrapped key that <paramref name="oldKey"/> does not open, naming its artifact.</exception>
    public static IReadOnlyList<(string Sha256, byte[] WrappedKey)> Rewrap(
        IEnumerable<(string Sha256, byte[] WrappedKey)> wrappedKeys, MasterKey oldKey, MasterKey newKey)
    {
        ArgumentNullException.ThrowIfNull(wrappedKeys);
        ArgumentNullException.ThrowIfNull(oldKey);
        ArgumentNullException.ThrowIfNull(newKey);
        var rewrapped = new List<(string, byte[])>();
        foreach (var (sha256, wrapped) in wrappedKeys)
        {
            if (MasterKey.KeyIdOf(wrapped) == newKey.KeyId)
            {
                rewrapped.Add((sha256, wrapped));
                continue;
            }

            byte[] dataKey;
            try
            {
                dataKey = oldKey.Unwrap(wrapped);
            }
            catch (ArtifactKeyException e)
            {
                throw new ArtifactKeyException($"Artifact {sha256}: {e.Message} Nothing was re-wrapped.", e);
            }

            try
            {
                rewrapped.Add((sha256, newKey.Wrap(dataKey)));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        }

        return rewrapped;
    }
}
