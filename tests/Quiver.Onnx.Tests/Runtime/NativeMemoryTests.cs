using Quiver.Onnx.Model;

namespace Quiver.Onnx.Tests.Runtime;

/// <summary>
/// Native memory is released: long loops of runs and sessions do not grow the process. Resident memory is
/// process-wide, so these tests run alone, after every parallel test.
/// </summary>
[Collection(nameof(NativeMemoryTests))]
[CollectionDefinition(nameof(NativeMemoryTests), DisableParallelization = true)]
public sealed class NativeMemoryTests : IDisposable
{
    private readonly TestModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public void Run_100kTimes_DoesNotGrowResidentMemory()
    {
        using var session = InferenceSession.FromFile(_models.Save("mixed", SampleModels.MultiInputOutput()), new SessionSettings { IntraOpThreads = 1 });
        using var strings = InferenceSession.FromFile(_models.Save("strings", SampleModels.StringIdentity()), new SessionSettings { IntraOpThreads = 1 });
        NamedTensor[] inputs =
        [
            new("a", TensorValue.FromArray([2L, 3L], new long[] { 1, 2, 3, 4, 5, 6 })),
            new("b", TensorValue.FromArray([2L, 3L], new long[] { 6, 5, 4, 3, 2, 1 })),
            new("flag", TensorValue.FromArray([2L, 3L], new[] { true, false, true, false, true, false })),
        ];
        NamedTensor[] text = [new("text", TensorValue.FromStrings([2], ["some text", "more text"]))];
        void RunBoth(int times)
        {
            for (int i = 0; i < times; i++)
            {
                session.Run(inputs);
                strings.Run(text);
            }
        }

        RunBoth(50_000); // warm up: arenas, thread pools, JIT, and the GC settling on its heap size (~12 MB here)
        long before = ResidentBytes();
        RunBoth(100_000);
        long after = ResidentBytes();

        // Measured growth after warm-up is ~1 MB ± 4 MB of noise; leaking one OrtValue per run would be > 40 MB.
        Assert.True(after - before < 12L * 1024 * 1024, $"resident memory grew by {(after - before) / 1024} KiB over 100k runs");
    }

    [Fact]
    public void CreateAndDispose_1000Sessions_DoesNotGrowResidentMemory()
    {
        byte[] model = SampleModels.Mlp(TestModels.W1, TestModels.B1, TestModels.W2, TestModels.B2).ToBytes();
        void CreateMany(int times)
        {
            for (int i = 0; i < times; i++)
            {
                using var session = InferenceSession.FromBytes(model, new SessionSettings { IntraOpThreads = 1 });
                _ = session.Metadata;
            }
        }

        CreateMany(200);
        long before = ResidentBytes();
        CreateMany(1000);
        long after = ResidentBytes();

        Assert.True(after - before < 24L * 1024 * 1024, $"resident memory grew by {(after - before) / 1024} KiB over 1000 sessions");
    }

    private static long ResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
