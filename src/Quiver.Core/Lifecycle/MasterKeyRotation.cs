using Quiver.Core.Registry;
using Quiver.Core.Storage;

namespace Quiver.Core.Lifecycle;

/// <summary>
/// Moves every encrypted version in a registry from one master key to another by re-wrapping its data key; the
/// artifact files are neither read nor rewritten, and servers keep serving what they loaded.
/// </summary>
public static class MasterKeyRotation
{
    /// <summary>
    /// Re-wraps every data key under <paramref name="newKey"/> and returns how many versions changed. All keys are
    /// unwrapped before anything is written, so a wrong <paramref name="oldKey"/> changes nothing; versions already
    /// under <paramref name="newKey"/> are skipped, so an interrupted rotation can simply be run again.
    /// </summary>
    /// <exception cref="ArtifactKeyException">A data key <paramref name="oldKey"/> does not open; nothing was changed.</exception>
    public static async Task<int> RotateAsync(IModelRegistry registry, MasterKey oldKey, MasterKey newKey, CancellationToken cancellationToken)
    {
        var encrypted = new List<RegisteredVersion>();
        foreach (RegisteredModel model in await registry.GetModelsAsync(cancellationToken))
        {
            encrypted.AddRange((await registry.GetVersionsAsync(model.Name, cancellationToken)).Where(v => v.WrappedDataKey is not null));
        }

        IReadOnlyList<(string Sha256, byte[] WrappedKey)> rewrapped = KeyRotation.Rewrap(
            encrypted.Select(v => (v.Sha256, v.WrappedDataKey!)), oldKey, newKey);
        int changed = 0;
        for (int i = 0; i < encrypted.Count; i++)
        {
            if (!rewrapped[i].WrappedKey.AsSpan().SequenceEqual(encrypted[i].WrappedDataKey))
            {
                await registry.SetWrappedKeyAsync(encrypted[i].Model, encrypted[i].Version, newKey.KeyId, rewrapped[i].WrappedKey, cancellationToken);
                changed++;
            }
        }

        return changed;
    }
}
