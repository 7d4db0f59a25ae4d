using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Quiver.Onnx.Model;

namespace Quiver.Onnx.Tests.Runtime;

/// <summary>ONNX Runtime's own messages reach .NET logging. Runs with the memory tests: the log target is process-wide.</summary>
[Collection(nameof(NativeMemoryTests))]
public sealed class RuntimeLoggingTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose()
    {
        OnnxRuntime.Initialize(new CapturingLoggerFactory()); // detach this test's log list
        _models.Dispose();
    }

    [Fact]
    public void OrtWarnings_AreLoggedUnderTheOnnxRuntimeCategory()
    {
        var factory = new CapturingLoggerFactory();
        OnnxRuntime.Initialize(factory);
        ModelBuilder model = SampleModels.Identity(TensorElementType.Float, "batch")
            .Initializer("never_used", new float[] { 1, 2, 3 }, 3);

        using var session = InferenceSession.FromFile(_models.Save("unused_initializer", model));

        Assert.Contains(factory.Messages, m => m.Category == "OnnxRuntime" && m.Level == LogLevel.Warning && m.Text.Contains("never_used"));
    }

    private sealed class CapturingLoggerFactory : ILoggerFactory
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Text)> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Messages);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }
}
