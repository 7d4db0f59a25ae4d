namespace Quiver.Onnx;

/// <summary>
/// The ONNX Runtime C API function table (<c>OrtApi</c>), read once. Each field is the entry at the index
/// the C header's <c>struct OrtApi</c> gives it; entries are only ever appended there, so the indices hold
/// for every ONNX Runtime that supports <see cref="Version"/>.
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>The API version requested: 22 (ONNX Runtime 1.22) has every entry used here.</summary>
    public const uint Version = 22;

    public readonly delegate* unmanaged<nint, OrtErrorCode> GetErrorCode;
    public readonly delegate* unmanaged<nint, byte*> GetErrorMessage;
    public readonly delegate* unmanaged<delegate* unmanaged<nint, OrtLoggingLevel, byte*, byte*, byte*, byte*, void>, nint, OrtLoggingLevel, byte*, nint*, nint> CreateEnvWithCustomLogger;
    public readonly delegate* unmanaged<nint, byte*, nint, nint*, nint> CreateSession;
    public readonly delegate* unmanaged<nint, void*, nuint, nint, nint*, nint> CreateSessionFromArray;
    public readonly delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run;
    public readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;
    public readonly delegate* unmanaged<nint, byte*, nint> SetOptimizedModelFilePath;
    public readonly delegate* unmanaged<nint, ExecutionMode, nint> SetSessionExecutionMode;
    public readonly delegate* unmanaged<nint, nint> EnableMemPattern;
    public readonly delegate* unmanaged<nint, nint> DisableMemPattern;
    public readonly delegate* unmanaged<nint, nint> EnableCpuMemArena;
    public readonly delegate* unmanaged<nint, nint> DisableCpuMemArena;
    public readonly delegate* unmanaged<nint, byte*, nint> SetSessionLogId;
    public readonly delegate* unmanaged<nint, GraphOptimizationLevel, nint> SetSessionGraphOptimizationLevel;
    public readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;
    public readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetInputName;
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetOutputName;
    public readonly delegate* unmanaged<nint*, nint> CreateRunOptions;
    public readonly delegate* unmanaged<nint, nint> RunOptionsSetTerminate;
    public readonly delegate* unmanaged<nint, long*, nuint, TensorElementType, nint*, nint> CreateTensorAsOrtValue;
    public readonly delegate* unmanaged<nint, void*, nuint, long*, nuint, TensorElementType, nint*, nint> CreateTensorWithDataAsOrtValue;
    public readonly delegate* unmanaged<nint, void**, nint> GetTensorMutableData;
    public readonly delegate* unmanaged<nint, nuint*, nint> GetStringTensorDataLength;
    public readonly delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint> GetStringTensorContent;
    public readonly delegate* unmanaged<nint, nint*, nint> CastTypeInfoToTensorInfo;
    public readonly delegate* unmanaged<nint, OnnxValueType*, nint> GetOnnxTypeFromTypeInfo;
    public readonly delegate* unmanaged<nint, TensorElementType*, nint> GetTensorElementType;
    public readonly delegate* unmanaged<nint, nuint*, nint> GetDimensionsCount;
    public readonly delegate* unmanaged<nint, long*, nuint, nint> GetDimensions;
    public readonly delegate* unmanaged<nint, byte**, nuint, nint> GetSymbolicDimensions;
    public readonly delegate* unmanaged<nint, nuint*, nint> GetTensorShapeElementCount;
    public readonly delegate* unmanaged<nint, nint*, nint> GetTensorTypeAndShape;
    public readonly delegate* unmanaged<nint, OnnxValueType*, nint> GetValueType;
    public readonly delegate* unmanaged<int, int, nint*, nint> CreateCpuMemoryInfo;
    public readonly delegate* unmanaged<nint, void*, nint> AllocatorFree;
    public readonly delegate* unmanaged<nint*, nint> GetAllocatorWithDefaultOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseEnv;
    public readonly delegate* unmanaged<nint, void> ReleaseStatus;
    public readonly delegate* unmanaged<nint, void> ReleaseMemoryInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseSession;
    public readonly delegate* unmanaged<nint, void> ReleaseValue;
    public readonly delegate* unmanaged<nint, void> ReleaseRunOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseTypeInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseTensorTypeAndShapeInfo;
    public readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;
    public readonly delegate* unmanaged<nint, nint*, nint> SessionGetModelMetadata;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetProducerName;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetGraphName;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetDomain;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetDescription;
    public readonly delegate* unmanaged<nint, nint, byte*, byte**, nint> ModelMetadataLookupCustomMetadataMap;
    public readonly delegate* unmanaged<nint, long*, nint> ModelMetadataGetVersion;
    public readonly delegate* unmanaged<nint, void> ReleaseModelMetadata;
    public readonly delegate* unmanaged<nint, nint, byte***, long*, nint> ModelMetadataGetCustomMetadataMapKeys;
    public readonly delegate* unmanaged<byte***, int*, nint> GetAvailableProviders;
    public readonly delegate* unmanaged<byte**, int, nint> ReleaseAvailableProviders;
    public readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> ModelMetadataGetGraphDescription;
    public readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProvider_TensorRT_V2;
    public readonly delegate* unmanaged<nint*, nint> CreateTensorRTProviderOptions;
    public readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateTensorRTProviderOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseTensorRTProviderOptions;
    public readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProvider_CUDA_V2;
    public readonly delegate* unmanaged<nint*, nint> CreateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, byte*, byte**, byte**, nuint, nint> SessionOptionsAppendExecutionProvider;
    public readonly delegate* unmanaged<nint, nuint, nuint, byte**, nint> GetResizedStringTensorElementBuffer;

    public OrtApi(nint* table)
    {
        GetErrorCode = (delegate* unmanaged<nint, OrtErrorCode>)table[1];
        GetErrorMessage = (delegate* unmanaged<nint, byte*>)table[2];
        CreateEnvWithCustomLogger = (delegate* unmanaged<delegate* unmanaged<nint, OrtLoggingLevel, byte*, byte*, byte*, byte*, void>, nint, OrtLoggingLevel, byte*, nint*, nint>)table[4];
        CreateSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)table[7];
        CreateSessionFromArray = (delegate* unmanaged<nint, void*, nuint, nint, nint*, nint>)table[8];
        Run = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)table[9];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)table[10];
        SetOptimizedModelFilePath = (delegate* unmanaged<nint, byte*, nint>)table[11];
        SetSessionExecutionMode = (delegate* unmanaged<nint, ExecutionMode, nint>)table[13];
        EnableMemPattern = (delegate* unmanaged<nint, nint>)table[16];
        DisableMemPattern = (delegate* unmanaged<nint, nint>)table[17];
        EnableCpuMemArena = (delegate* unmanaged<nint, nint>)table[18];
        DisableCpuMemArena = (delegate* unmanaged<nint, nint>)table[19];
        SetSessionLogId = (delegate* unmanaged<nint, byte*, nint>)table[20];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, GraphOptimizationLevel, nint>)table[23];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)table[24];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)table[25];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)table[30];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)table[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)table[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)table[34];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)table[36];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)table[37];
        CreateRunOptions = (delegate* unmanaged<nint*, nint>)table[39];
        RunOptionsSetTerminate = (delegate* unmanaged<nint, nint>)table[46];
        CreateTensorAsOrtValue = (delegate* unmanaged<nint, long*, nuint, TensorElementType, nint*, nint>)table[48];
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, TensorElementType, nint*, nint>)table[49];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)table[51];
        GetStringTensorDataLength = (delegate* unmanaged<nint, nuint*, nint>)table[53];
        GetStringTensorContent = (delegate* unmanaged<nint, void*, nuint, nuint*, nuint, nint>)table[54];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)table[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, OnnxValueType*, nint>)table[56];
        GetTensorElementType = (delegate* unmanaged<nint, TensorElementType*, nint>)table[60];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)table[61];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)table[62];
        GetSymbolicDimensions = (delegate* unmanaged<nint, byte**, nuint, nint>)table[63];
        GetTensorShapeElementCount = (delegate* unmanaged<nint, nuint*, nint>)table[64];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)table[65];
        GetValueType = (delegate* unmanaged<nint, OnnxValueType*, nint>)table[67];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)table[69];
        AllocatorFree = (delegate* unmanaged<nint, void*, nint>)table[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)table[78];
        ReleaseEnv = (delegate* unmanaged<nint, void>)table[92];
        ReleaseStatus = (delegate* unmanaged<nint, void>)table[93];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)table[94];
        ReleaseSession = (delegate* unmanaged<nint, void>)table[95];
        ReleaseValue = (delegate* unmanaged<nint, void>)table[96];
        ReleaseRunOptions = (delegate* unmanaged<nint, void>)table[97];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)table[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)table[99];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)table[100];
        SessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)table[111];
        ModelMetadataGetProducerName = (delegate* unmanaged<nint, nint, byte**, nint>)table[112];
        ModelMetadataGetGraphName = (delegate* unmanaged<nint, nint, byte**, nint>)table[113];
        ModelMetadataGetDomain = (delegate* unmanaged<nint, nint, byte**, nint>)table[114];
        ModelMetadataGetDescription = (delegate* unmanaged<nint, nint, byte**, nint>)table[115];
        ModelMetadataLookupCustomMetadataMap = (delegate* unmanaged<nint, nint, byte*, byte**, nint>)table[116];
        ModelMetadataGetVersion = (delegate* unmanaged<nint, long*, nint>)table[117];
        ReleaseModelMetadata = (delegate* unmanaged<nint, void>)table[118];
        ModelMetadataGetCustomMetadataMapKeys = (delegate* unmanaged<nint, nint, byte***, long*, nint>)table[123];
        GetAvailableProviders = (delegate* unmanaged<byte***, int*, nint>)table[125];
        ReleaseAvailableProviders = (delegate* unmanaged<byte**, int, nint>)table[126];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)table[130];
        ModelMetadataGetGraphDescription = (delegate* unmanaged<nint, nint, byte**, nint>)table[158];
        SessionOptionsAppendExecutionProvider_TensorRT_V2 = (delegate* unmanaged<nint, nint, nint>)table[170];
        CreateTensorRTProviderOptions = (delegate* unmanaged<nint*, nint>)table[171];
        UpdateTensorRTProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)table[172];
        ReleaseTensorRTProviderOptions = (delegate* unmanaged<nint, void>)table[174];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<nint, nint, nint>)table[204];
        CreateCUDAProviderOptions = (delegate* unmanaged<nint*, nint>)table[205];
        UpdateCUDAProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)table[206];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<nint, void>)table[208];
        SessionOptionsAppendExecutionProvider = (delegate* unmanaged<nint, byte*, byte**, byte**, nuint, nint>)table[216];
        GetResizedStringTensorElementBuffer = (delegate* unmanaged<nint, nuint, nuint, byte**, nint>)table[252];
    }

    /// <summary>Throws <see cref="OnnxRuntimeException"/> for a failed call, freeing the status either way.</summary>
    public void Check(nint status)
    {
        if (status != 0)
        {
            throw ToException(status);
        }
    }

    /// <summary>Turns a failed call's status into an exception and frees the status.</summary>
    public OnnxRuntimeException ToException(nint status)
    {
        try
        {
            OrtErrorCode code = GetErrorCode(status);
            string message = Utf8.Read(GetErrorMessage(status)) ?? "(no message)";
            return new OnnxRuntimeException(code, message);
        }
        finally
        {
            ReleaseStatus(status);
        }
    }
}

/// <summary>ONNX's kinds of values (<c>ONNXType</c>); Quiver serves tensors only.</summary>
internal enum OnnxValueType
{
    Unknown = 0,
    Tensor = 1,
    Sequence = 2,
    Map = 3,
    Opaque = 4,
    SparseTensor = 5,
    Optional = 6,
}
