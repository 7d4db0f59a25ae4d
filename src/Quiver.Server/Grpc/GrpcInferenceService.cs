using System.Globalization;
using Quiver.Core;
using Quiver.Core.Lifecycle;
using Quiver.Core.Models;
using Quiver.Core.Tensors;
using Quiver.Server.Grpc.Proto;

namespace Quiver.Server.Grpc;

/// <summary>What each RPC of <c>inference.GRPCInferenceService</c> does, in terms of Core. No framing here.</summary>
internal sealed class GrpcInferenceService(InferenceService inference, ModelLifecycle lifecycle, string[] extensions)
{
    private ModelCatalog Catalog => inference.Catalog;

    public ServerLiveResponse ServerLive(ServerLiveRequest request) => new() { Live = true };

    public ServerReadyResponse ServerReady(ServerReadyRequest request) => new() { Ready = true };

    public ModelReadyResponse ModelReady(ModelReadyRequest request)
    {
        ServedModel? model = Catalog.Find(request.Name, Version(request.Version), out InferenceError? error);
        return model is not null || error!.Kind == ErrorKind.Unavailable
            ? new ModelReadyResponse { Ready = model is not null }
            : throw new GrpcException(GrpcEndpoints.StatusFor(error.Kind), error.Message);
    }

    public ServerMetadataResponse ServerMetadata(ServerMetadataRequest request)
    {
        var response = new ServerMetadataResponse { Name = "quiver", Version = ServerInfo.Version };
        response.Extensions.AddRange(extensions);
        return response;
    }

    public ModelMetadataResponse ModelMetadata(ModelMetadataRequest request)
    {
        ServedModel model = FindOrThrow(request.Name, request.Version);
        var response = new ModelMetadataResponse { Name = model.Name, Platform = ServedModel.Platform };
        response.Versions.AddRange(request.Version.Length > 0
            ? [model.Version.ToString(CultureInfo.InvariantCulture)]
            : Catalog.Models[model.Name].Where(v => v.State == ModelState.Ready).Select(v => v.Version.ToString(CultureInfo.InvariantCulture)));
        response.Inputs.AddRange(model.Inputs.Select(ToMetadata));
        response.Outputs.AddRange(model.Outputs.Select(ToMetadata));
        return response;
    }

    public async ValueTask<ModelInferResponse> ModelInferAsync(ModelInferRequest request, CancellationToken cancellationToken)
    {
        InferResult result = await inference.InferAsync(GrpcTensors.ToRequest(request, inference.SensitiveInputsOf(request.ModelName)), cancellationToken);
        return result.Error is { } error
            ? throw new GrpcException(GrpcEndpoints.StatusFor(error.Kind), error.Message)
            : GrpcTensors.ToMessage(result.Response!);
    }

    public ModelConfigResponse ModelConfig(ModelConfigRequest request) =>
        new() { Config = GrpcModelConfig.ToMessage(FindOrThrow(request.Name, request.Version).EffectiveConfig()) };

    public ModelStatisticsResponse ModelStatistics(ModelStatisticsRequest request)
    {
        IReadOnlyList<ServedModel> models = Catalog.ReadyVersions(request.Name, request.Version, out InferenceError? error);
        if (error is not null)
        {
            throw new GrpcException(GrpcEndpoints.StatusFor(error.Kind), error.Message);
        }

        var response = new ModelStatisticsResponse();
        foreach (ServedModel model in models)
        {
            StatisticsSnapshot stats = model.Statistics.Snapshot();
            var entry = new Proto.ModelStatistics
            {
                Name = model.Name,
                Version = model.Version.ToString(CultureInfo.InvariantCulture),
                LastInference = (ulong)stats.LastInferenceMs,
                InferenceCount = (ulong)stats.InferenceCount,
                ExecutionCount = (ulong)stats.ExecutionCount,
                InferenceStats = new InferStatistics
                {
                    Success = Duration(stats.Success),
                    Fail = Duration(stats.Fail),
                    Queue = Duration(stats.Queue),
                    ComputeInput = Duration(stats.ComputeInput),
                    ComputeInfer = Duration(stats.ComputeInfer),
                    ComputeOutput = Duration(stats.ComputeOutput),
                    CacheHit = Duration(stats.CacheHit),
                    CacheMiss = Duration(stats.CacheMiss),
                },
            };
            entry.BatchStats.AddRange(stats.BatchStats.Select(b => new InferBatchStatistics
            {
                BatchSize = (ulong)b.BatchSize,
                ComputeInput = Duration(b.ComputeInput),
                ComputeInfer = Duration(b.ComputeInfer),
                ComputeOutput = Duration(b.ComputeOutput),
            }));
            response.ModelStats.Add(entry);
        }

        return response;
    }

    public RepositoryIndexResponse RepositoryIndex(RepositoryIndexRequest request)
    {
        var response = new RepositoryIndexResponse();
        foreach (var (name, versions) in Catalog.Index())
        {
            if (versions.Length == 0 && !request.Ready)
            {
                response.Models.Add(new RepositoryIndexResponse.Types.ModelIndex { Name = name });
            }

            response.Models.AddRange(versions
                .Where(v => !request.Ready || v.State == ModelState.Ready)
                .Select(v => new RepositoryIndexResponse.Types.ModelIndex
                {
                    Name = name,
                    Version = v.Version.ToString(CultureInfo.InvariantCulture),
                    State = v.State == ModelState.Ready ? "READY" : "UNAVAILABLE",
                    Reason = v.Reason ?? "",
                }));
        }

        return response;
    }

    public async ValueTask<RepositoryModelLoadResponse> RepositoryModelLoadAsync(RepositoryModelLoadRequest request, CancellationToken cancellationToken)
    {
        string? config = null;
        if (request.Parameters.TryGetValue("config", out ModelRepositoryParameter? parameter))
        {
            config = parameter.ParameterChoiceCase switch
            {
                ModelRepositoryParameter.ParameterChoiceOneofCase.StringParam => parameter.StringParam,
                ModelRepositoryParameter.ParameterChoiceOneofCase.BytesParam => parameter.BytesParam.ToStringUtf8(),
                _ => throw GrpcException.InvalidArgument("parameter 'config' must be a string holding the model configuration as JSON"),
            };
        }

        ThrowIfError(await lifecycle.LoadAsync(request.ModelName, config, cancellationToken));
        return new RepositoryModelLoadResponse();
    }

    public async ValueTask<RepositoryModelUnloadResponse> RepositoryModelUnloadAsync(RepositoryModelUnloadRequest request, CancellationToken cancellationToken)
    {
        ThrowIfError(await lifecycle.UnloadAsync(request.ModelName, cancellationToken));
        return new RepositoryModelUnloadResponse();
    }

    private static void ThrowIfError(InferenceError? error)
    {
        if (error is not null)
        {
            throw new GrpcException(GrpcEndpoints.StatusFor(error.Kind), error.Message);
        }
    }

    private ServedModel FindOrThrow(string name, string version) =>
        Catalog.Find(name, Version(version), out InferenceError? error)
            ?? throw new GrpcException(GrpcEndpoints.StatusFor(error!.Kind), error.Message);

    // Protobuf has no null string: an empty version means "the model's default version".
    private static string? Version(string version) => version.Length == 0 ? null : version;

    private static StatisticDuration Duration(CountAndNanoseconds duration) => new() { Count = (ulong)duration.Count, Ns = (ulong)duration.Ns };

    private static ModelMetadataResponse.Types.TensorMetadata ToMetadata(TensorSpec spec)
    {
        var metadata = new ModelMetadataResponse.Types.TensorMetadata { Name = spec.Name, Datatype = spec.DataType.Name() };
        metadata.Shape.AddRange(spec.Shape);
        return metadata;
    }
}
