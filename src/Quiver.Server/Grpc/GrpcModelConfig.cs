using Quiver.Core.Models;
using Quiver.Server.Grpc.Proto;

namespace Quiver.Server.Grpc;

/// <summary>A model's configuration as the ModelConfig RPC returns it (Triton's model_config.proto).</summary>
internal static class GrpcModelConfig
{
    public static Proto.ModelConfig ToMessage(TritonModelConfig config)
    {
        var message = new Proto.ModelConfig
        {
            Name = config.Name,
            Platform = config.Platform,
            Backend = config.Backend,
            MaxBatchSize = config.MaxBatchSize,
            VersionPolicy = Policy(config.VersionPolicy),
        };
        message.Input.AddRange(config.Inputs.Select(t =>
        {
            var input = new ModelInput { Name = t.Name, DataType = DataTypeOf(t.DataType), Reshape = Reshape(t.Reshape) };
            input.Dims.AddRange(t.Dims);
            return input;
        }));
        message.Output.AddRange(config.Outputs.Select(t =>
        {
            var output = new ModelOutput { Name = t.Name, DataType = DataTypeOf(t.DataType), LabelFilename = t.LabelFilename ?? "", Reshape = Reshape(t.Reshape) };
            output.Dims.AddRange(t.Dims);
            return output;
        }));
        message.InstanceGroup.AddRange(config.InstanceGroups.Select(g => new ModelInstanceGroup
        {
            Count = g.Count,
            Kind = (ModelInstanceGroup.Types.Kind)(int)g.Kind,
        }));
        if (config.DynamicBatching is { } batching)
        {
            message.DynamicBatching = new ModelDynamicBatching { MaxQueueDelayMicroseconds = (ulong)batching.MaxQueueDelayMicroseconds };
            message.DynamicBatching.PreferredBatchSize.AddRange(batching.PreferredBatchSizes);
        }

        foreach (var (key, value) in config.Parameters)
        {
            message.Parameters[key] = new ModelParameter { StringValue = value };
        }

        return message;
    }

    private static ModelTensorReshape? Reshape(long[]? shape) => shape is null ? null : new ModelTensorReshape { Shape = { shape } };

    private static ModelVersionPolicy Policy(TritonVersionPolicy policy) => policy.Kind switch
    {
        TritonVersionPolicyKind.Latest => new ModelVersionPolicy { Latest = new ModelVersionPolicy.Types.Latest { NumVersions = (uint)policy.NumVersions } },
        TritonVersionPolicyKind.Specific => new ModelVersionPolicy { Specific = new ModelVersionPolicy.Types.Specific { Versions = { policy.Versions } } },
        _ => new ModelVersionPolicy { All = new ModelVersionPolicy.Types.All() },
    };

    // Triton's DataType numbers: TYPE_BOOL = 1 ... TYPE_STRING = 13, then TYPE_BF16 = 14.
    private static readonly string[] s_tritonOrder =
        ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES", "BF16"];

    private static Proto.DataType DataTypeOf(string? protocolName) => (Proto.DataType)(Array.IndexOf(s_tritonOrder, protocolName) + 1);
}
