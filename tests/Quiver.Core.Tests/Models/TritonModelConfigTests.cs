using Quiver.Core.Models;
using Quiver.Core.Tensors;

namespace Quiver.Core.Tests.Models;

public sealed class TritonModelConfigTests
{
    // Shaped like the image-classifier examples in Triton's model configuration guide.
    private const string Realistic = """
        # An image classifier exported to ONNX.
        name: "classifier"
        platform: "onnxruntime_onnx"
        backend: "onnxruntime"
        max_batch_size: 16
        version_policy: { latest: { num_versions: 2 } }
        input [
          {
            name: "pixels"
            data_type: TYPE_FP32
            format: FORMAT_NCHW
            dims: [ 3, 224, 224 ]
          },
          {
            name: "temperature"
            data_type: TYPE_FP16
            dims: [ 1 ]
            reshape: { shape: [ ] }
          }
        ]
        output [
          {
            name: "scores"
            data_type: TYPE_FP32
            dims: [ 1000 ]
            label_filename: "imagenet_labels.txt"
          },
          { name: "embedding", data_type: TYPE_FP32, dims: [ -1 ] }
        ]
        instance_group [
          { count: 2, kind: KIND_GPU, gpus: [ 0, 1 ] },
          { count: 1 kind: KIND_CPU }
        ]
        dynamic_batching {
          preferred_batch_size: [ 4, 8 ]
          max_queue_delay_microseconds: 100
        }
        optimization {
          graph: { level: 1 }
          execution_accelerators {
            gpu_execution_accelerator: [ { name: "tensorrt" } ]
            cpu_execution_accelerator: [ { name: "openvino" } ]
          }
        }
        parameters { key: "cudnn_conv_algo_search" value: { string_value: "HEURISTIC" } }
        parameters: { key: 'intra_op_thread_count' value { string_value: '4' } }
        model_warmup [ { name: "zeros" batch_size: 1 } ]
        """;

    [Fact]
    public void Parse_RealisticConfig_ReadsEveryField()
    {
        TritonModelConfig config = TritonModelConfig.Parse(Realistic);

        Assert.Equal("classifier", config.Name);
        Assert.Equal("onnxruntime_onnx", config.Platform);
        Assert.Equal("onnxruntime", config.Backend);
        Assert.Equal(16, config.MaxBatchSize);
        Assert.Equal((TritonVersionPolicyKind.Latest, 2), (config.VersionPolicy.Kind, config.VersionPolicy.NumVersions));

        Assert.Equal(["pixels", "temperature"], config.Inputs.Select(i => i.Name));
        Assert.Equal("FP32", config.Inputs[0].DataType);
        Assert.Equal([3L, 224, 224], config.Inputs[0].Dims);
        Assert.Null(config.Inputs[0].Reshape);
        Assert.Equal("FP16", config.Inputs[1].DataType);
        Assert.Equal([1L], config.Inputs[1].Dims);
        Assert.Equal([], config.Inputs[1].Reshape!);

        Assert.Equal(["scores", "embedding"], config.Outputs.Select(o => o.Name));
        Assert.Equal("imagenet_labels.txt", config.Outputs[0].LabelFilename);
        Assert.Null(config.Outputs[1].LabelFilename);
        Assert.Equal([-1L], config.Outputs[1].Dims);

        Assert.Equal(2, config.InstanceGroups.Count);
        Assert.Equal((2, TritonInstanceKind.Gpu), (config.InstanceGroups[0].Count, config.InstanceGroups[0].Kind));
        Assert.Equal([0, 1], config.InstanceGroups[0].Gpus);
        Assert.Equal((1, TritonInstanceKind.Cpu), (config.InstanceGroups[1].Count, config.InstanceGroups[1].Kind));
        Assert.Empty(config.InstanceGroups[1].Gpus);

        Assert.NotNull(config.DynamicBatching);
        Assert.Equal([4, 8], config.DynamicBatching.PreferredBatchSizes);
        Assert.Equal(100, config.DynamicBatching.MaxQueueDelayMicroseconds);

        Assert.Equal(1, config.GraphOptimizationLevel);
        Assert.Equal(["tensorrt"], config.GpuExecutionAccelerators);
        Assert.Equal(["openvino"], config.CpuExecutionAccelerators);
        Assert.Equal(2, config.Parameters.Count);
        Assert.Equal("HEURISTIC", config.Parameters["cudnn_conv_algo_search"]);
        Assert.Equal("4", config.Parameters["intra_op_thread_count"]);

        Assert.Equal(
        [
            "config.pbtxt line 11, column 5: unknown field 'input.format' ignored",
            "config.pbtxt line 47, column 1: unknown field 'model_warmup' ignored",
        ], config.Warnings);
    }

    [Fact]
    public void Parse_EmptyConfig_HasTritonDefaults()
    {
        TritonModelConfig config = TritonModelConfig.Parse("# nothing set\n");

        Assert.Equal("", config.Name);
        Assert.Equal(0, config.MaxBatchSize);
        Assert.Empty(config.Inputs);
        Assert.Empty(config.Outputs);
        Assert.Null(config.DynamicBatching);
        Assert.Empty(config.InstanceGroups);
        Assert.Same(TritonVersionPolicy.Default, config.VersionPolicy);
        Assert.Equal((TritonVersionPolicyKind.Latest, 1), (config.VersionPolicy.Kind, config.VersionPolicy.NumVersions));
        Assert.Null(config.GraphOptimizationLevel);
        Assert.Empty(config.Parameters);
        Assert.Empty(config.Warnings);
    }

    [Theory]
    [InlineData("TYPE_BOOL", "BOOL")]
    [InlineData("TYPE_UINT8", "UINT8")]
    [InlineData("TYPE_UINT16", "UINT16")]
    [InlineData("TYPE_UINT32", "UINT32")]
    [InlineData("TYPE_UINT64", "UINT64")]
    [InlineData("TYPE_INT8", "INT8")]
    [InlineData("TYPE_INT16", "INT16")]
    [InlineData("TYPE_INT32", "INT32")]
    [InlineData("TYPE_INT64", "INT64")]
    [InlineData("TYPE_FP16", "FP16")]
    [InlineData("TYPE_BF16", "BF16")]
    [InlineData("TYPE_FP32", "FP32")]
    [InlineData("TYPE_FP64", "FP64")]
    [InlineData("TYPE_STRING", "BYTES")]
    public void Parse_DataTypes_BecomeProtocolNames(string tritonName, string protocolName)
    {
        TritonModelConfig config = TritonModelConfig.Parse($"input {{ name: \"x\" data_type: {tritonName} dims: [1] }}");

        Assert.Equal(protocolName, config.Inputs[0].DataType);
    }

    [Fact]
    public void Parse_DataTypeAndDimsOmitted_AreLeftForTheModelToSay()
    {
        TritonModelConfig config = TritonModelConfig.Parse("output { name: \"y\" }");

        Assert.Null(config.Outputs[0].DataType);
        Assert.Empty(config.Outputs[0].Dims);
        Assert.Null(config.Outputs[0].Reshape);
    }

    [Theory]
    [InlineData("version_policy: { all: {} }", TritonVersionPolicyKind.All, 0, new long[0])]
    [InlineData("version_policy { all { } }", TritonVersionPolicyKind.All, 0, new long[0])]
    [InlineData("version_policy: { latest: {} }", TritonVersionPolicyKind.Latest, 1, new long[0])]
    [InlineData("version_policy: { latest: { num_versions: 3 } }", TritonVersionPolicyKind.Latest, 3, new long[0])]
    [InlineData("version_policy: { specific: { versions: [ 1, 3 ] } }", TritonVersionPolicyKind.Specific, 0, new long[] { 1, 3 })]
    [InlineData("version_policy { specific { versions: 4 versions: 2 } }", TritonVersionPolicyKind.Specific, 0, new long[] { 4, 2 })]
    [InlineData("version_policy { }", TritonVersionPolicyKind.Latest, 1, new long[0])]
    public void Parse_VersionPolicies(string text, TritonVersionPolicyKind kind, int numVersions, long[] versions)
    {
        TritonVersionPolicy policy = TritonModelConfig.Parse(text).VersionPolicy;

        Assert.Equal(kind, policy.Kind);
        Assert.Equal(numVersions, policy.NumVersions);
        Assert.Equal(versions, policy.Versions);
    }

    [Theory]
    [InlineData(TritonVersionPolicyKind.Latest, 1, new long[0], new long[] { 3 })]
    [InlineData(TritonVersionPolicyKind.Latest, 2, new long[0], new long[] { 2, 3 })]
    [InlineData(TritonVersionPolicyKind.Latest, 10, new long[0], new long[] { 1, 2, 3 })]
    [InlineData(TritonVersionPolicyKind.All, 0, new long[0], new long[] { 1, 2, 3 })]
    [InlineData(TritonVersionPolicyKind.Specific, 0, new long[] { 3, 1, 7 }, new long[] { 1, 3 })]
    public void VersionPolicy_Select_PicksFromThePresentVersions(TritonVersionPolicyKind kind, int numVersions, long[] versions, long[] expected)
    {
        var policy = new TritonVersionPolicy(kind, numVersions, versions);

        Assert.Equal(expected, policy.Select([3, 1, 2]));
        Assert.Empty(policy.Select([]));
    }

    [Fact]
    public void Parse_UnknownFieldsAtAnyDepth_AreWarningsNamingThePath()
    {
        TritonModelConfig config = TritonModelConfig.Parse("""
            max_batch_size: 4
            sequence_batching { }
            input { name: "x" is_shape_tensor: true label_filename: "l.txt" }
            output { name: "y" reshape { shape: [1] extra: 2 } }
            dynamic_batching { preserve_ordering: true }
            instance_group { name: "g" count: 1 rate_limiter { priority: 2 } }
            version_policy { latest { num_versions: 1 newest_first: true } }
            optimization {
              priority: PRIORITY_MAX
              cuda { graphs: true }
              graph { level: -1 mode: 2 }
              execution_accelerators {
                gpu_execution_accelerator: [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ]
                npu_execution_accelerator: [ { name: "x" } ]
              }
            }
            parameters { key: "k" value { int_value: 3 } priority: 1 }
            """);

        Assert.Equal(
        [
            "unknown field 'sequence_batching' ignored",
            "unknown field 'input.is_shape_tensor' ignored",
            "unknown field 'input.label_filename' ignored",
            "unknown field 'output.reshape.extra' ignored",
            "unknown field 'dynamic_batching.preserve_ordering' ignored",
            "unknown field 'instance_group.rate_limiter' ignored",
            "unknown field 'version_policy.latest.newest_first' ignored",
            "unknown field 'optimization.priority' ignored",
            "unknown field 'optimization.cuda' ignored",
            "unknown field 'optimization.graph.mode' ignored",
            "unknown field 'optimization.execution_accelerators.gpu_execution_accelerator.parameters' ignored",
            "unknown field 'optimization.execution_accelerators.npu_execution_accelerator' ignored",
            "unknown field 'parameters.value.int_value' ignored",
            "unknown field 'parameters.priority' ignored",
        ], config.Warnings.Select(w => w[(w.IndexOf(": ", StringComparison.Ordinal) + 2)..]));
        Assert.StartsWith("config.pbtxt line 2, column 1:", config.Warnings[0]);
        Assert.StartsWith("config.pbtxt line 3, column 19:", config.Warnings[1]);
        Assert.Equal(-1, config.GraphOptimizationLevel);
        Assert.Equal(["tensorrt"], config.GpuExecutionAccelerators);
        Assert.Equal("", config.Parameters["k"]);
    }

    [Fact]
    public void Parse_WrongValues_AreAllReportedInOneExceptionWithPositions()
    {
        var error = Assert.Throws<ModelConfigException>(() => TritonModelConfig.Parse("""
            max_batch_size: "x"
            name: 5
            input { name: "a" data_type: TYPE_FLOAT dims: [ -2, 3 ] }
            input { data_type: TYPE_FP32 }
            input { name: "a" data_type: "TYPE_FP32" }
            output { name: "y" reshape: 3 }
            instance_group [ { count: -1 kind: KIND_TPU }, { kind: KIND_CPU gpus: [ 0 ] } ]
            version_policy { latest { num_versions: 0 } all { } }
            platform: "a"
            platform: "b"
            """));

        string[] errors = error.Message.Split("; ");
        Assert.Equal(
        [
            "config.pbtxt line 1, column 17: 'max_batch_size' must be an integer >= 0, got \"x\"",
            "config.pbtxt line 2, column 7: 'name' must be a quoted string, got 5",
            "config.pbtxt line 3, column 30: 'input.data_type' must be one of TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, " +
                "TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_BF16, TYPE_FP32, TYPE_FP64, TYPE_STRING, got TYPE_FLOAT",
            "config.pbtxt line 3, column 49: 'input.dims' must hold sizes >= 0, or -1 for any size, got -2",
            "config.pbtxt line 4, column 7: 'input' needs a 'name'",
            "config.pbtxt line 5, column 30: 'input.data_type' must be one of TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, " +
                "TYPE_UINT64, TYPE_INT8, TYPE_INT16, TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_BF16, TYPE_FP32, TYPE_FP64, TYPE_STRING, got \"TYPE_FP32\"",
            "config.pbtxt line 5, column 7: 'input' lists 'a' more than once",
            "config.pbtxt line 6, column 29: 'output.reshape' must be a message in braces, got 3",
            "config.pbtxt line 7, column 27: 'instance_group.count' must be an integer >= 1, got -1",
            "config.pbtxt line 7, column 36: 'instance_group.kind' must be one of KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL, got KIND_TPU",
            "config.pbtxt line 7, column 73: 'instance_group.gpus' cannot be used with KIND_CPU",
            "config.pbtxt line 8, column 41: 'version_policy.latest.num_versions' must be an integer >= 1, got 0",
            "config.pbtxt line 8, column 45: 'version_policy' must choose only one of latest, all or specific",
            "config.pbtxt line 10, column 11: 'platform' is set more than once",
        ], errors);
    }

    [Theory]
    [InlineData("max_batch_size: 1.5", "'max_batch_size' must be an integer >= 0, got 1.5")]
    [InlineData("max_batch_size: -1", "'max_batch_size' must be an integer >= 0, got -1")]
    [InlineData("max_batch_size: 2147483648", "'max_batch_size' must be an integer >= 0, got 2147483648")]
    [InlineData("max_batch_size: []", "'max_batch_size' needs a value, not an empty list")]
    [InlineData("max_batch_size: [ 1, 2 ]", "'max_batch_size' is set more than once")]
    [InlineData("max_batch_size: { }", "'max_batch_size' must be an integer >= 0, got { ... }")]
    [InlineData("input: 3", "'input' must be a message in braces, got 3")]
    [InlineData("output { name: \"y\" label_filename: labels }", "'output.label_filename' must be a quoted string, got labels")]
    [InlineData("dynamic_batching { preferred_batch_size: [ 0 ] }", "'dynamic_batching.preferred_batch_size' must be an integer >= 1, got 0")]
    [InlineData("dynamic_batching { max_queue_delay_microseconds: -5 }", "'dynamic_batching.max_queue_delay_microseconds' must be an integer >= 0, got -5")]
    [InlineData("max_batch_size: 8 dynamic_batching { preferred_batch_size: [ 4, 16 ] }", "config.pbtxt: 'dynamic_batching.preferred_batch_size' 16 is larger than max_batch_size 8")]
    [InlineData("version_policy { specific { } }", "'version_policy.specific' must list at least one version")]
    [InlineData("version_policy { specific { versions: [ -1 ] } }", "'version_policy.specific.versions' must be an integer >= 0, got -1")]
    [InlineData("version_policy: 1", "'version_policy' must be a message in braces, got 1")]
    [InlineData("optimization { graph { level: 3000000000 } }", "'optimization.graph.level' must be a 32-bit integer, got 3000000000")]
    [InlineData("optimization { execution_accelerators { gpu_execution_accelerator [ { } ] } }", "'optimization.execution_accelerators.gpu_execution_accelerator' needs a 'name'")]
    [InlineData("parameters { value { string_value: \"v\" } }", "'parameters' entry needs a 'key'")]
    [InlineData("parameters { key: \"k\" } parameters { key: \"k\" }", "'parameters' sets 'k' more than once")]
    [InlineData("parameters { key: \"k\" value { string_value: 1 } }", "'parameters.value.string_value' must be a quoted string, got 1")]
    [InlineData("input { name: \"x\" data_type: TYPE_INVALID }", "got TYPE_INVALID")]
    [InlineData("input { name: \"x\" data_type: TYPE_BYTES }", "got TYPE_BYTES")]
    public void Parse_WrongValue_IsAnError(string text, string message)
    {
        var error = Assert.Throws<ModelConfigException>(() => TritonModelConfig.Parse(text));

        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Parse_SyntaxError_NamesLineAndColumn()
    {
        var error = Assert.Throws<ModelConfigException>(() => TritonModelConfig.Parse("name: \"m\"\ninput [\n  { name: \"x\" }\n"));

        Assert.Equal("config.pbtxt line 4, column 1: expected ',' or ']' but found end of file", error.Message);
    }

    [Fact]
    public void ToModelConfig_DynamicBatchingAndResponseCache_AreApplied()
    {
        ModelConfig config = TritonModelConfig.Parse("""
            max_batch_size: 16
            dynamic_batching { preferred_batch_size: [ 8, 4 ] max_queue_delay_microseconds: 100 }
            response_cache { enable: true }
            """).ToModelConfig();

        Assert.Equal(100, config.DynamicBatching!.MaxQueueDelayMicroseconds);
        Assert.Equal([4, 8], config.DynamicBatching.PreferredBatchSizes);
        Assert.True(config.ResponseCache);
    }

    [Fact]
    public void ToModelConfig_RealisticConfig_SumsInstancesAndPutsTensorRtFirst()
    {
        ModelConfig config = TritonModelConfig.Parse(Realistic).ToModelConfig();

        Assert.Equal(16, config.MaxBatchSize);
        Assert.Equal(3, config.InstanceCount);
        Assert.Equal(["tensorrt", "cuda", "cpu"], config.ExecutionProviders);
        Assert.Equal(new Dictionary<string, string> { ["scores"] = "imagenet_labels.txt" }, config.LabelFiles);
        Assert.True(config.FallbackToCpu);
    }

    [Theory]
    [InlineData("", 1, "cpu")]
    [InlineData("instance_group { kind: KIND_CPU }", 1, "cpu")]
    [InlineData("instance_group { count: 4 kind: KIND_AUTO }", 4, "cpu")]
    [InlineData("instance_group [ { count: 2 kind: KIND_GPU }, { count: 3 kind: KIND_CPU } ]", 5, "cuda,cpu")]
    [InlineData("optimization { execution_accelerators { gpu_execution_accelerator [ { name: \"tensorrt\" } ] } }", 1, "tensorrt,cuda,cpu")]
    [InlineData("instance_group { kind: KIND_GPU } optimization { execution_accelerators { gpu_execution_accelerator [ { name: \"tensorrt\" } ] } }", 1, "tensorrt,cuda,cpu")]
    [InlineData("instance_group { count: 2 kind: KIND_CPU } optimization { execution_accelerators { gpu_execution_accelerator [ { name: \"tensorrt\" } ] } }", 2, "cpu")]
    [InlineData("optimization { execution_accelerators { cpu_execution_accelerator [ { name: \"openvino\" } ] } }", 1, "cpu")]
    public void ToModelConfig_InstancesAndProviders(string text, int instances, string providers)
    {
        ModelConfig config = TritonModelConfig.Parse(text).ToModelConfig();

        Assert.Equal(instances, config.InstanceCount);
        Assert.Equal(providers, string.Join(",", config.ExecutionProviders));
        Assert.Equal(0, config.MaxBatchSize);
        Assert.Empty(config.LabelFiles);
    }

    private static readonly TensorSpec[] s_inputs = [new("input", DataType.Fp32, [-1, 4]), new("mask", DataType.Bool, [-1, 4])];
    private static readonly TensorSpec[] s_outputs = [new("output", DataType.Fp32, [-1, 4]), new("text", DataType.Bytes, [-1])];

    private static IReadOnlyList<string> Validate(string text) => TritonModelConfig.Parse(text).Validate(s_inputs, s_outputs);

    [Theory]
    [InlineData("")]
    [InlineData("max_batch_size: 8 input { name: \"input\" data_type: TYPE_FP32 dims: [ 4 ] }")]
    [InlineData("max_batch_size: 8 input { name: \"input\" dims: [ -1 ] } output { name: \"text\" data_type: TYPE_STRING dims: [ ] }")]
    [InlineData("max_batch_size: 8 output { name: \"text\" data_type: TYPE_STRING dims: [ 1 ] reshape { shape: [ ] } }")]
    [InlineData("input { name: \"input\" data_type: TYPE_FP32 dims: [ 2, 4 ] } output { name: \"text\" dims: [ 7 ] }")]
    [InlineData("input { name: \"mask\" data_type: TYPE_BOOL dims: [ -1, -1 ] }")]
    [InlineData("output { name: \"output\" }")]
    public void Validate_Agreeing_HasNoProblems(string text)
    {
        Assert.Empty(Validate(text));
    }

    [Theory]
    [InlineData("platform: \"tensorrt_plan\"", "platform is 'tensorrt_plan'")]
    [InlineData("backend: \"python\"", "backend is 'python'")]
    public void Validate_AnotherPlatformOrBackend_IsRefusedNamingIt(string text, string problem)
    {
        Assert.Contains(Validate(text), p => p.Contains(problem, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("platform: \"onnxruntime_onnx\"")]
    [InlineData("backend: \"onnxruntime\"")]
    public void Validate_OnnxRuntimePlatformOrBackend_IsAccepted(string text)
    {
        Assert.Empty(Validate(text));
    }

    [Fact]
    public void Validate_DataTypeDiffers_NamesBothTypes()
    {
        IReadOnlyList<string> problems = Validate("""
            max_batch_size: 8
            input { name: "input" data_type: TYPE_INT32 dims: [ 4 ] }
            output { name: "output" data_type: TYPE_STRING dims: [ 4 ] }
            output { name: "text" data_type: TYPE_FP32 dims: [ ] }
            """);

        Assert.Equal(
        [
            "config.pbtxt input 'input' has data_type TYPE_INT32 but the model's input is FP32",
            "config.pbtxt output 'output' has data_type TYPE_STRING but the model's output is FP32",
            "config.pbtxt output 'text' has data_type TYPE_FP32 but the model's output is BYTES",
        ], problems);
    }

    [Fact]
    public void Validate_DimsDiffer_SaysTheBatchDimensionIsAdded()
    {
        IReadOnlyList<string> problems = Validate("""
            max_batch_size: 8
            input { name: "input" data_type: TYPE_FP32 dims: [ 5 ] }
            input { name: "mask" dims: [ -1, 4 ] }
            """);

        Assert.Equal(
        [
            "config.pbtxt input 'input' dims [5] do not match the model's shape [-1,4] (max_batch_size 8 adds the batch dimension)",
            "config.pbtxt input 'mask' dims [-1,4] do not match the model's shape [-1,4] (max_batch_size 8 adds the batch dimension)",
        ], problems);
    }

    [Fact]
    public void Validate_WithoutBatching_DimsMustCoverTheWholeShape()
    {
        Assert.Equal(
            ["config.pbtxt input 'input' dims [4] do not match the model's shape [-1,4]"],
            Validate("input { name: \"input\" dims: [ 4 ] }"));
    }

    [Fact]
    public void Validate_BatchingAModelWithAFixedLeadingDimension_IsAProblem()
    {
        IReadOnlyList<string> problems = TritonModelConfig.Parse("max_batch_size: 4 input { name: \"x\" dims: [ 3 ] }")
            .Validate([new TensorSpec("x", DataType.Fp32, [1, 3])], []);

        Assert.Equal(["config.pbtxt input 'x' dims [3] do not match the model's shape [1,3] (max_batch_size 4 adds the batch dimension)"], problems);
    }

    [Fact]
    public void Validate_Reshape_IsComparedInsteadOfDims()
    {
        IReadOnlyList<string> problems = Validate("""
            max_batch_size: 2
            input { name: "input" dims: [ 4 ] reshape: { shape: [ 2, 2 ] } }
            input { name: "mask" dims: [ 2, 2 ] reshape: { shape: [ 4 ] } }
            """);

        Assert.Equal(["config.pbtxt input 'input' reshape shape [2,2] does not match the model's shape [-1,4] (max_batch_size 2 adds the batch dimension)"], problems);
    }

    [Fact]
    public void Validate_NamesTheModelDoesNotHave_AreProblems()
    {
        IReadOnlyList<string> problems = Validate("""
            input { name: "inputs" }
            output { name: "nope" }
            """);

        Assert.Equal(
        [
            "config.pbtxt names input 'inputs', which the model does not have (its inputs: 'input', 'mask')",
            "config.pbtxt names output 'nope', which the model does not have (its outputs: 'output', 'text')",
        ], problems);
    }
}
