using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Quiver.Onnx;

/// <summary>
/// A model loaded into ONNX Runtime. <see cref="Run"/> may be called from many threads at once, as ONNX
/// Runtime allows; each call gets its own outputs.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OnnxRuntime _runtime;
    private readonly OrtHandle _session;
    private readonly Dictionary<string, int> _inputIndex;
    private readonly Dictionary<string, int> _outputIndex;

    // Names as NUL-terminated UTF-8 on the pinned object heap: stable addresses for every Run, no native memory to free.
    private readonly byte[][] _inputNames;
    private readonly byte[][] _outputNames;

    private InferenceSession(OnnxRuntime runtime, OrtHandle session, IReadOnlyList<string> providers)
    {
        _runtime = runtime;
        _session = session;
        ExecutionProviders = providers;
        Inputs = ReadTensorInfos(isInput: true);
        Outputs = ReadTensorInfos(isInput: false);
        Metadata = ReadMetadata();
        _inputNames = PinnedNames(Inputs);
        _outputNames = PinnedNames(Outputs);
        _inputIndex = IndexOf(Inputs);
        _outputIndex = IndexOf(Outputs);
    }

    /// <summary>The model's inputs, in the model's order.</summary>
    public IReadOnlyList<TensorInfo> Inputs { get; }

    /// <summary>The model's outputs, in the model's order.</summary>
    public IReadOnlyList<TensorInfo> Outputs { get; }

    public ModelMetadata Metadata { get; }

    /// <summary>The providers the session was built with, in priority order, ending with "CPUExecutionProvider".</summary>
    public IReadOnlyList<string> ExecutionProviders { get; }

    /// <summary>Loads a model file. Throws <see cref="OnnxRuntimeException"/> when ONNX Runtime rejects it.</summary>
    public static InferenceSession FromFile(string path, SessionSettings? settings = null, OnnxRuntime? runtime = null)
    {
        byte[] utf8Path = Utf8.Terminated(path);
        return Create(runtime ?? OnnxRuntime.Instance, settings ?? new SessionSettings(), (api, env, options, session) =>
        {
            fixed (byte* p = utf8Path)
            {
                return api.CreateSession(env, p, options, session);
            }
        });
    }

    /// <summary>Loads a model from memory (e.g. a decrypted artifact); the bytes are not kept.</summary>
    public static InferenceSession FromBytes(ReadOnlySpan<byte> model, SessionSettings? settings = null, OnnxRuntime? runtime = null)
    {
        byte[] copy = model.ToArray();
        return Create(runtime ?? OnnxRuntime.Instance, settings ?? new SessionSettings(), (api, env, options, session) =>
        {
            fixed (byte* p = copy)
            {
                return api.CreateSessionFromArray(env, p, (nuint)copy.Length, options, session);
            }
        });
    }

    /// <summary>
    /// Runs the model. Numeric inputs are pinned, not copied; outputs are copied into managed memory, new arrays unless
    /// <paramref name="outputMemory"/> provides it (string outputs always get new arrays).
    /// <paramref name="outputNames"/> null asks for every output. Cancelling the token terminates the run
    /// and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public TensorValue[] Run(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<string>? outputNames = null, CancellationToken cancellationToken = default,
        OutputMemory? outputMemory = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        OrtApi api = _runtime.Api;
        int outputCount = outputNames?.Count ?? Outputs.Count;
        nint* inputNamePointers = stackalloc nint[inputs.Count];
        nint* outputNamePointers = stackalloc nint[outputCount];
        nint* inputValues = stackalloc nint[inputs.Count];
        nint* outputValues = stackalloc nint[outputCount];
        new Span<nint>(inputValues, inputs.Count).Clear();
        new Span<nint>(outputValues, outputCount).Clear();
        var pins = new MemoryHandle[inputs.Count];
        bool addedRef = false;
        try
        {
            _session.DangerousAddRef(ref addedRef);
            for (int i = 0; i < inputs.Count; i++)
            {
                NamedTensor input = inputs[i];
                if (!_inputIndex.TryGetValue(input.Name, out int index))
                {
                    throw new OnnxRuntimeException(OrtErrorCode.InvalidArgument,
                        $"the model has no input '{input.Name}'; its inputs are: {string.Join(", ", Inputs.Select(x => x.Name))}");
                }

                inputNamePointers[i] = AddressOf(_inputNames[index]);
                inputValues[i] = CreateInputValue(input.Value, ref pins[i]);
            }

            for (int i = 0; i < outputCount; i++)
            {
                int index = i;
                if (outputNames is not null && !_outputIndex.TryGetValue(outputNames[i], out index))
                {
                    throw new OnnxRuntimeException(OrtErrorCode.InvalidArgument,
                        $"the model has no output '{outputNames[i]}'; its outputs are: {string.Join(", ", Outputs.Select(x => x.Name))}");
                }

                outputNamePointers[i] = AddressOf(_outputNames[index]);
            }

            RunNative(api, inputNamePointers, inputValues, inputs.Count, outputNamePointers, outputValues, outputCount, cancellationToken);

            var results = new TensorValue[outputCount];
            for (int i = 0; i < outputCount; i++)
            {
                results[i] = ReadOutput(outputValues[i], Outputs[outputNames is null ? i : _outputIndex[outputNames[i]]].Name, i, outputMemory);
            }

            return results;
        }
        finally
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                if (inputValues[i] != 0)
                {
                    api.ReleaseValue(inputValues[i]);
                }

                pins[i].Dispose();
            }

            for (int i = 0; i < outputCount; i++)
            {
                if (outputValues[i] != 0)
                {
                    api.ReleaseValue(outputValues[i]);
                }
            }

            if (addedRef)
            {
                _session.DangerousRelease();
            }
        }
    }

    public void Dispose() => _session.Dispose();

    private void RunNative(OrtApi api, nint* inputNames, nint* inputValues, int inputCount,
        nint* outputNames, nint* outputValues, int outputCount, CancellationToken cancellationToken)
    {
        nint session = _session.DangerousGetHandle();
        if (!cancellationToken.CanBeCanceled)
        {
            api.Check(api.Run(session, 0, inputNames, inputValues, (nuint)inputCount, outputNames, (nuint)outputCount, outputValues));
            return;
        }

        nint raw;
        api.Check(api.CreateRunOptions(&raw));
        using var runOptions = new OrtHandle(raw, api.ReleaseRunOptions);
        nint status;
        using (cancellationToken.Register(static state => Terminate((OrtHandle)state!), runOptions))
        {
            status = api.Run(session, raw, inputNames, inputValues, (nuint)inputCount, outputNames, (nuint)outputCount, outputValues);
        }

        if (status != 0)
        {
            OnnxRuntimeException error = api.ToException(status);
            cancellationToken.ThrowIfCancellationRequested();
            throw error;
        }
    }

    private static void Terminate(OrtHandle runOptions)
    {
        OrtApi api = OnnxRuntime.Instance.Api;
        bool added = false;
        try
        {
            runOptions.DangerousAddRef(ref added);
            api.Check(api.RunOptionsSetTerminate(runOptions.DangerousGetHandle()));
        }
        catch (ObjectDisposedException)
        {
            // The run already finished.
        }
        finally
        {
            if (added)
            {
                runOptions.DangerousRelease();
            }
        }
    }

    private nint CreateInputValue(TensorValue value, ref MemoryHandle pin)
    {
        OrtApi api = _runtime.Api;
        long[] shape = value.Shape;
        nint result;
        fixed (long* dims = shape)
        {
            if (value.ElementType == TensorElementType.String)
            {
                api.Check(api.CreateTensorAsOrtValue(_runtime.Allocator, dims, (nuint)shape.Length, TensorElementType.String, &result));
                try
                {
                    FillStrings(api, result, value.Strings!);
                }
                catch
                {
                    api.ReleaseValue(result);
                    throw;
                }

                return result;
            }

            ReadOnlyMemory<byte> data = value.Data;
            pin = data.Pin();
            void* pointer = pin.Pointer;

            // ORT's kernels may read elements with aligned loads; a misaligned slice gets an aligned copy.
            int size = ElementTypes.SizeOf(value.ElementType);
            if (pointer == null || (nuint)pointer % (nuint)size != 0)
            {
                pin.Dispose();
                pin = new ReadOnlyMemory<byte>(data.Length == 0 ? new byte[size] : data.ToArray()).Pin();
                pointer = pin.Pointer;
            }

            api.Check(api.CreateTensorWithDataAsOrtValue(_runtime.CpuMemory.DangerousGetHandle(), pointer, (nuint)data.Length,
                dims, (nuint)shape.Length, value.ElementType, &result));
            return result;
        }
    }

    // Each element is copied into a buffer ORT sizes for it, so strings may hold any bytes, NUL included.
    private static void FillStrings(OrtApi api, nint tensor, byte[][] strings)
    {
        for (int i = 0; i < strings.Length; i++)
        {
            byte* buffer;
            api.Check(api.GetResizedStringTensorElementBuffer(tensor, (nuint)i, (nuint)strings[i].Length, &buffer));
            strings[i].CopyTo(new Span<byte>(buffer, strings[i].Length));
        }
    }

    private TensorValue ReadOutput(nint value, string name, int position, OutputMemory? outputMemory)
    {
        OrtApi api = _runtime.Api;
        OnnxValueType kind;
        api.Check(api.GetValueType(value, &kind));
        if (kind != OnnxValueType.Tensor)
        {
            throw new OnnxRuntimeException(OrtErrorCode.NotImplemented, $"output '{name}' is a {kind}, not a tensor; Quiver returns tensors only.");
        }

        nint info;
        api.Check(api.GetTensorTypeAndShape(value, &info));
        using var infoHandle = new OrtHandle(info, api.ReleaseTensorTypeAndShapeInfo);
        TensorElementType type;
        api.Check(api.GetTensorElementType(info, &type));
        long[] shape = ReadShape(api, info);
        if (type == TensorElementType.String)
        {
            return TensorValue.FromStrings(shape, ReadStrings(api, value));
        }

        int size = ElementTypes.SizeOf(type);
        if (size == 0)
        {
            throw new OnnxRuntimeException(OrtErrorCode.NotImplemented, $"output '{name}' has element type {type}, which Quiver does not carry.");
        }

        nuint count;
        api.Check(api.GetTensorShapeElementCount(info, &count));
        int length = checked((int)count * size);
        Memory<byte> bytes = outputMemory is null ? new byte[length] : outputMemory(position, length);
        if (bytes.Length != length)
        {
            throw new InvalidOperationException($"the output memory for '{name}' holds {bytes.Length} bytes, not the {length} asked for.");
        }

        if (length > 0)
        {
            void* data;
            api.Check(api.GetTensorMutableData(value, &data));
            new ReadOnlySpan<byte>(data, length).CopyTo(bytes.Span);
        }

        return TensorValue.FromBytes(type, shape, bytes);
    }

    private static byte[][] ReadStrings(OrtApi api, nint value)
    {
        nint info;
        api.Check(api.GetTensorTypeAndShape(value, &info));
        nuint count;
        try
        {
            api.Check(api.GetTensorShapeElementCount(info, &count));
        }
        finally
        {
            api.ReleaseTensorTypeAndShapeInfo(info);
        }

        nuint total;
        api.Check(api.GetStringTensorDataLength(value, &total));
        byte[] content = new byte[Math.Max((int)total, 1)];
        nuint[] offsets = new nuint[Math.Max((int)count, 1)];
        fixed (byte* c = content)
        fixed (nuint* o = offsets)
        {
            api.Check(api.GetStringTensorContent(value, c, total, o, count));
        }

        var strings = new byte[(int)count][];
        for (int i = 0; i < strings.Length; i++)
        {
            int start = (int)offsets[i];
            int end = i + 1 < strings.Length ? (int)offsets[i + 1] : (int)total;
            strings[i] = content[start..end];
        }

        return strings;
    }

    private static long[] ReadShape(OrtApi api, nint info)
    {
        nuint rank;
        api.Check(api.GetDimensionsCount(info, &rank));
        var shape = new long[(int)rank];
        fixed (long* dims = shape)
        {
            api.Check(api.GetDimensions(info, dims, rank));
        }

        return shape;
    }

    private TensorInfo[] ReadTensorInfos(bool isInput)
    {
        OrtApi api = _runtime.Api;
        nint session = _session.DangerousGetHandle();
        nuint count;
        api.Check(isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var infos = new TensorInfo[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* rawName;
            api.Check(isInput
                ? api.SessionGetInputName(session, i, _runtime.Allocator, &rawName)
                : api.SessionGetOutputName(session, i, _runtime.Allocator, &rawName));
            string name = _runtime.TakeString(rawName);

            nint typeInfo;
            api.Check(isInput ? api.SessionGetInputTypeInfo(session, i, &typeInfo) : api.SessionGetOutputTypeInfo(session, i, &typeInfo));
            using var typeHandle = new OrtHandle(typeInfo, api.ReleaseTypeInfo);
            infos[i] = ReadTensorInfo(api, name, typeInfo);
        }

        return infos;
    }

    private static TensorInfo ReadTensorInfo(OrtApi api, string name, nint typeInfo)
    {
        OnnxValueType kind;
        api.Check(api.GetOnnxTypeFromTypeInfo(typeInfo, &kind));
        nint tensorInfo; // owned by typeInfo
        api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        if (kind != OnnxValueType.Tensor || tensorInfo == 0)
        {
            return new TensorInfo(name, TensorElementType.Undefined, [], []);
        }

        TensorElementType type;
        api.Check(api.GetTensorElementType(tensorInfo, &type));
        long[] shape = ReadShape(api, tensorInfo);
        var symbols = new byte*[Math.Max(shape.Length, 1)];
        fixed (byte** s = symbols)
        {
            api.Check(api.GetSymbolicDimensions(tensorInfo, s, (nuint)shape.Length));
        }

        var symbolic = new string[shape.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            symbolic[d] = Utf8.Read(symbols[d]) ?? "";
        }

        return new TensorInfo(name, type, shape, symbolic);
    }

    private ModelMetadata ReadMetadata()
    {
        OrtApi api = _runtime.Api;
        nint raw;
        api.Check(api.SessionGetModelMetadata(_session.DangerousGetHandle(), &raw));
        using var handle = new OrtHandle(raw, api.ReleaseModelMetadata);
        long version;
        api.Check(api.ModelMetadataGetVersion(raw, &version));
        return new ModelMetadata(
            ReadMetadataString(api.ModelMetadataGetProducerName, raw),
            ReadMetadataString(api.ModelMetadataGetGraphName, raw),
            ReadMetadataString(api.ModelMetadataGetGraphDescription, raw),
            ReadMetadataString(api.ModelMetadataGetDomain, raw),
            ReadMetadataString(api.ModelMetadataGetDescription, raw),
            version,
            ReadCustomMetadata(raw));
    }

    private string ReadMetadataString(delegate* unmanaged<nint, nint, byte**, nint> getter, nint metadata)
    {
        byte* value;
        _runtime.Api.Check(getter(metadata, _runtime.Allocator, &value));
        return _runtime.TakeString(value);
    }

    private Dictionary<string, string> ReadCustomMetadata(nint metadata)
    {
        OrtApi api = _runtime.Api;
        byte** keys;
        long count;
        api.Check(api.ModelMetadataGetCustomMetadataMapKeys(metadata, _runtime.Allocator, &keys, &count));
        var map = new Dictionary<string, string>();
        if (keys == null)
        {
            return map;
        }

        try
        {
            for (long i = 0; i < count; i++)
            {
                byte* value;
                api.Check(api.ModelMetadataLookupCustomMetadataMap(metadata, _runtime.Allocator, keys[i], &value));
                map[Utf8.Read(keys[i]) ?? ""] = _runtime.TakeString(value);
            }
        }
        finally
        {
            for (long i = 0; i < count; i++)
            {
                api.Check(api.AllocatorFree(_runtime.Allocator, keys[i]));
            }

            api.Check(api.AllocatorFree(_runtime.Allocator, keys));
        }

        return map;
    }

    private static InferenceSession Create(OnnxRuntime runtime, SessionSettings settings,
        CreateSessionCall createSession)
    {
        bool hasProviders = settings.ExecutionProviders.Any(p => !p.Name.Equals("cpu", StringComparison.OrdinalIgnoreCase));
        try
        {
            return CreateWith(runtime, settings, createSession, withProviders: true);
        }
        catch (OnnxRuntimeException e) when (e.ErrorCode == OrtErrorCode.EpFail && hasProviders && settings.FallbackToCpu)
        {
            // A provider that was appended but cannot start (e.g. CUDA without a GPU) fails only here.
            OnnxRuntime.LogWarning($"execution providers failed to start, falling back to CPU: {e.OrtMessage}");
            return CreateWith(runtime, settings, createSession, withProviders: false);
        }
    }

    private static InferenceSession CreateWith(OnnxRuntime runtime, SessionSettings settings,
        CreateSessionCall createSession, bool withProviders)
    {
        using OrtHandle options = NativeSessionOptions.Create(runtime, settings, withProviders, out List<string> providers);
        nint raw;
        runtime.Api.Check(createSession(runtime.Api, runtime.Env, options.DangerousGetHandle(), &raw));
        var session = new OrtHandle(raw, runtime.Api.ReleaseSession);
        try
        {
            return new InferenceSession(runtime, session, providers);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private delegate nint CreateSessionCall(OrtApi api, nint env, nint options, nint* session);

    private static byte[][] PinnedNames(IReadOnlyList<TensorInfo> infos)
    {
        var names = new byte[infos.Count][];
        for (int i = 0; i < names.Length; i++)
        {
            string name = infos[i].Name;
            byte[] pinned = GC.AllocateArray<byte>(Encoding.UTF8.GetByteCount(name) + 1, pinned: true);
            Encoding.UTF8.GetBytes(name, pinned);
            names[i] = pinned;
        }

        return names;
    }

    private static nint AddressOf(byte[] pinned) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    private static Dictionary<string, int> IndexOf(IReadOnlyList<TensorInfo> infos)
    {
        var index = new Dictionary<string, int>(infos.Count, StringComparer.Ordinal);
        for (int i = 0; i < infos.Count; i++)
        {
            index[infos[i].Name] = i;
        }

        return index;
    }
}
