namespace Quiver.Onnx;

/// <summary>Turns <see cref="SessionSettings"/> into a native <c>OrtSessionOptions</c>.</summary>
internal static unsafe class NativeSessionOptions
{
    /// <summary>
    /// Builds the options. <paramref name="providers"/> receives the providers that were appended, in order,
    /// ending with "CPUExecutionProvider". <paramref name="withProviders"/> false builds CPU-only options.
    /// </summary>
    public static OrtHandle Create(OnnxRuntime runtime, SessionSettings settings, bool withProviders, out List<string> providers)
    {
        OrtApi api = runtime.Api;
        nint raw;
        api.Check(api.CreateSessionOptions(&raw));
        var options = new OrtHandle(raw, api.ReleaseSessionOptions);
        try
        {
            if (settings.IntraOpThreads > 0)
            {
                api.Check(api.SetIntraOpNumThreads(raw, settings.IntraOpThreads));
            }

            if (settings.InterOpThreads > 0)
            {
                api.Check(api.SetInterOpNumThreads(raw, settings.InterOpThreads));
            }

            api.Check(api.SetSessionExecutionMode(raw, settings.ExecutionMode));
            api.Check(api.SetSessionGraphOptimizationLevel(raw, settings.OptimizationLevel));
            api.Check(settings.EnableCpuMemoryArena ? api.EnableCpuMemArena(raw) : api.DisableCpuMemArena(raw));
            api.Check(settings.EnableMemoryPattern ? api.EnableMemPattern(raw) : api.DisableMemPattern(raw));
            if (settings.OptimizedModelPath is { } optimizedPath)
            {
                fixed (byte* path = Utf8.Terminated(optimizedPath))
                {
                    api.Check(api.SetOptimizedModelFilePath(raw, path));
                }
            }

            if (settings.LogId is { } logId)
            {
                fixed (byte* id = Utf8.Terminated(logId))
                {
                    api.Check(api.SetSessionLogId(raw, id));
                }
            }

            foreach (var (key, value) in settings.ConfigEntries)
            {
                fixed (byte* k = Utf8.Terminated(key), v = Utf8.Terminated(value))
                {
                    api.Check(api.AddSessionConfigEntry(raw, k, v));
                }
            }

            providers = [];
            if (withProviders)
            {
                AppendProviders(runtime, raw, settings, providers);
            }

            providers.Add("CPUExecutionProvider");
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    private static void AppendProviders(OnnxRuntime runtime, nint options, SessionSettings settings, List<string> appended)
    {
        foreach (ExecutionProviderSettings provider in settings.ExecutionProviders)
        {
            if (provider.Name.Equals("cpu", StringComparison.OrdinalIgnoreCase))
            {
                continue; // CPU always runs what no other provider took.
            }

            try
            {
                appended.Add(Append(runtime.Api, options, provider));
            }
            catch (OnnxRuntimeException e) when (settings.FallbackToCpu)
            {
                OnnxRuntime.LogWarning($"execution provider '{provider.Name}' is not available, falling back: {e.OrtMessage}");
            }
            catch (OnnxRuntimeException e)
            {
                // Say what would work: a typo ("cdua") and a CPU-only build look alike in ORT's own message.
                throw new OnnxRuntimeException(e.ErrorCode,
                    $"execution provider '{provider.Name}' is not available: {e.OrtMessage} Names Quiver knows: cpu, cuda, tensorrt; " +
                    $"any other name goes to ONNX Runtime as is. The ONNX Runtime at {runtime.LibraryPath} has: {string.Join(", ", runtime.AvailableProviders)}.");
            }
        }
    }

    // CUDA and TensorRT go through their V2 option structs: ORT 1.30's generic call rejects both names
    // ("Unknown provider name 'CUDA'"). Every other provider goes through the generic call.
    private static string Append(OrtApi api, nint options, ExecutionProviderSettings provider)
    {
        IReadOnlyDictionary<string, string> settings = provider.Options ?? new Dictionary<string, string>();
        using var keys = new Utf8Array(settings.Keys);
        using var values = new Utf8Array(settings.Values);
        switch (provider.Name.ToLowerInvariant())
        {
            case "cuda":
                AppendWithProviderOptions(api, api.CreateCUDAProviderOptions, api.UpdateCUDAProviderOptions,
                    api.SessionOptionsAppendExecutionProvider_CUDA_V2, api.ReleaseCUDAProviderOptions, options, keys, values);
                return "CUDAExecutionProvider";
            case "tensorrt":
                AppendWithProviderOptions(api, api.CreateTensorRTProviderOptions, api.UpdateTensorRTProviderOptions,
                    api.SessionOptionsAppendExecutionProvider_TensorRT_V2, api.ReleaseTensorRTProviderOptions, options, keys, values);
                return "TensorrtExecutionProvider";
            default:
                fixed (byte* name = Utf8.Terminated(provider.Name))
                {
                    api.Check(api.SessionOptionsAppendExecutionProvider(options, name, keys.Pointers, values.Pointers, (nuint)keys.Count));
                }

                return provider.Name + "ExecutionProvider";
        }
    }

    private static void AppendWithProviderOptions(OrtApi api,
        delegate* unmanaged<nint*, nint> create,
        delegate* unmanaged<nint, byte**, byte**, nuint, nint> update,
        delegate* unmanaged<nint, nint, nint> append,
        delegate* unmanaged<nint, void> release,
        nint options, Utf8Array keys, Utf8Array values)
    {
        nint providerOptions;
        api.Check(create(&providerOptions));
        using var handle = new OrtHandle(providerOptions, release);
        api.Check(update(providerOptions, keys.Pointers, values.Pointers, (nuint)keys.Count));
        api.Check(append(options, providerOptions));
    }
}
