using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Quiver.Onnx;

/// <summary>
/// The loaded ONNX Runtime library and its one environment per process. ONNX Runtime's own log messages
/// go to .NET logging under the category "OnnxRuntime".
/// </summary>
public sealed unsafe class OnnxRuntime
{
    /// <summary>The environment variable that points at another libonnxruntime (e.g. a GPU build).</summary>
    public const string LibraryVariable = "QUIVER_ORT_LIBRARY";

    /// <summary>The library's file name next to the binaries, where the build copies it.</summary>
    public const string LibraryFileName = "libonnxruntime.so.1";

    private static readonly Lock s_initLock = new();
    private static volatile OnnxRuntime? s_instance;
    private static volatile ILogger s_logger = NullLogger.Instance;

    private readonly OrtHandle _env;

    private OnnxRuntime(string libraryPath, string version, OrtApi api, OrtHandle env, OrtHandle cpuMemory, nint allocator, string[] providers)
    {
        LibraryPath = libraryPath;
        Version = version;
        Api = api;
        _env = env;
        CpuMemory = cpuMemory;
        Allocator = allocator;
        AvailableProviders = providers;
    }

    /// <summary>The runtime, initialized on first use without logging.</summary>
    public static OnnxRuntime Instance => s_instance ?? Initialize();

    /// <summary>The library file that was loaded.</summary>
    public string LibraryPath { get; }

    /// <summary>ONNX Runtime's version string, e.g. "1.30.0".</summary>
    public string Version { get; }

    /// <summary>Execution providers this build of ONNX Runtime contains, e.g. "CPUExecutionProvider".</summary>
    public IReadOnlyList<string> AvailableProviders { get; }

    internal OrtApi Api { get; }

    internal nint Env => _env.DangerousGetHandle();

    /// <summary>Describes CPU memory that tensors over caller buffers live in.</summary>
    internal OrtHandle CpuMemory { get; }

    /// <summary>ONNX Runtime's default CPU allocator; it is never released.</summary>
    internal nint Allocator { get; }

    /// <summary>
    /// Loads the library (from <see cref="ResolveLibraryPath"/>) and creates the environment on the first call;
    /// later calls return the same runtime and only switch where its log messages go.
    /// Throws <see cref="OrtLibraryException"/> when the library is missing or unusable.
    /// </summary>
    public static OnnxRuntime Initialize(ILoggerFactory? loggerFactory = null, OrtLoggingLevel level = OrtLoggingLevel.Warning)
    {
        if (loggerFactory is not null)
        {
            s_logger = loggerFactory.CreateLogger("OnnxRuntime");
        }

        lock (s_initLock)
        {
            return s_instance ??= Load(ResolveLibraryPath(), level);
        }
    }

    /// <summary><c>QUIVER_ORT_LIBRARY</c> when set, else the library beside the application's binaries.</summary>
    public static string ResolveLibraryPath()
    {
        string? configured = Environment.GetEnvironmentVariable(LibraryVariable);
        return string.IsNullOrWhiteSpace(configured)
            ? Path.Combine(AppContext.BaseDirectory, LibraryFileName)
            : Path.GetFullPath(configured);
    }

    private static OnnxRuntime Load(string path, OrtLoggingLevel level)
    {
        if (!File.Exists(path))
        {
            throw new OrtLibraryException(path, "no such file");
        }

        if (!NativeLibrary.TryLoad(path, out nint library))
        {
            throw new OrtLibraryException(path, "the file could not be loaded as a shared library for this platform");
        }

        if (!NativeLibrary.TryGetExport(library, "OrtGetApiBase", out nint getApiBase))
        {
            throw new OrtLibraryException(path, "the library does not export OrtGetApiBase, so it is not ONNX Runtime");
        }

        // struct OrtApiBase { const OrtApi* (*GetApi)(uint32_t); const char* (*GetVersionString)(void); }
        nint* apiBase = ((delegate* unmanaged<nint*>)getApiBase)();
        string version = Utf8.Read(((delegate* unmanaged<byte*>)apiBase[1])()) ?? "unknown";
        nint* table = ((delegate* unmanaged<uint, nint*>)apiBase[0])(OrtApi.Version);
        if (table == null)
        {
            throw new OrtLibraryException(path, $"ONNX Runtime {version} does not offer API version {OrtApi.Version}");
        }

        var api = new OrtApi(table);
        nint env;
        fixed (byte* logId = Utf8.Terminated("quiver"))
        {
            api.Check(api.CreateEnvWithCustomLogger(&OnLog, 0, level, logId, &env));
        }

        nint memory;
        api.Check(api.CreateCpuMemoryInfo(0 /* OrtDeviceAllocator */, 0 /* OrtMemTypeDefault */, &memory));
        nint allocator;
        api.Check(api.GetAllocatorWithDefaultOptions(&allocator));
        return new OnnxRuntime(path, version, api, new OrtHandle(env, api.ReleaseEnv), new OrtHandle(memory, api.ReleaseMemoryInfo),
            allocator, ReadProviders(api));
    }

    private static string[] ReadProviders(OrtApi api)
    {
        byte** names;
        int count;
        api.Check(api.GetAvailableProviders(&names, &count));
        try
        {
            var providers = new string[count];
            for (int i = 0; i < count; i++)
            {
                providers[i] = Utf8.Read(names[i]) ?? "";
            }

            return providers;
        }
        finally
        {
            api.Check(api.ReleaseAvailableProviders(names, count));
        }
    }

    /// <summary>Reads and frees a string the default allocator returned.</summary>
    internal string TakeString(byte* value)
    {
        try
        {
            return Utf8.Read(value) ?? "";
        }
        finally
        {
            if (value != null)
            {
                Api.Check(Api.AllocatorFree(Allocator, value));
            }
        }
    }

    internal static void LogWarning(string message)
    {
        if (s_logger.IsEnabled(LogLevel.Warning))
        {
            s_logger.LogWarning("{Message}", message);
        }
    }

    // Called by ONNX Runtime on its own threads: it must never throw back into native code.
    [UnmanagedCallersOnly]
    private static void OnLog(nint param, OrtLoggingLevel severity, byte* category, byte* logId, byte* codeLocation, byte* message)
    {
        try
        {
            ILogger logger = s_logger;
            LogLevel level = severity switch
            {
                OrtLoggingLevel.Verbose => LogLevel.Trace,
                OrtLoggingLevel.Info => LogLevel.Information,
                OrtLoggingLevel.Warning => LogLevel.Warning,
                OrtLoggingLevel.Error => LogLevel.Error,
                _ => LogLevel.Critical,
            };
            if (logger.IsEnabled(level))
            {
                logger.Log(level, "[{LogId}] {Message} ({Location})", Utf8.Read(logId), Utf8.Read(message), Utf8.Read(codeLocation));
            }
        }
        catch
        {
            // A failing logger must not take the process down from inside ONNX Runtime.
        }
    }
}
