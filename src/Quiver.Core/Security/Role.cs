namespace Quiver.Core.Security;

/// <summary>What a principal may do. Each role is a separate grant; <see cref="Admin"/> alone implies every other.</summary>
public enum Role
{
    /// <summary>Reads metadata, statistics, metrics and the dashboard.</summary>
    Viewer,

    /// <summary>Calls models (inference) and sends feedback.</summary>
    Predictor,

    /// <summary>Changes the registry, rollouts, endpoints, experiments and batch jobs.</summary>
    Deployer,

    /// <summary>Everything, including API keys and the audit log.</summary>
    Admin,
}
