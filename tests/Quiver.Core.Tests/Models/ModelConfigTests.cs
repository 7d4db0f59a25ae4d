using Quiver.Core.Models;

namespace Quiver.Core.Tests.Models;

public sealed class ModelConfigTests
{
    [Fact]
    public void Parse_EmptyObject_GivesDefaults()
    {
        ModelConfig config = ModelConfig.Parse("{}");

        Assert.Equal(ModelConfig.Default, config with { ExecutionProviders = ModelConfig.Default.ExecutionProviders, LabelFiles = ModelConfig.Default.LabelFiles });
        Assert.Equal(0, config.MaxBatchSize);
        Assert.Equal(1, config.InstanceCount);
        Assert.Equal(["cpu"], config.ExecutionProviders);
        Assert.True(config.FallbackToCpu);
    }

    [Fact]
    public void Parse_EverySetting_IsRead()
    {
        ModelConfig config = ModelConfig.Parse("""
            {"max_batch_size": 64, "instance_count": 3, "intra_op_threads": 2, "inter_op_threads": 1,
             "execution_providers": ["cuda", "cpu"], "fallback_to_cpu": false, "label_files": {"probabilities": "labels.txt"}}
            """);

        Assert.Equal(64, config.MaxBatchSize);
        Assert.Equal(3, config.InstanceCount);
        Assert.Equal(2, config.IntraOpThreads);
        Assert.Equal(1, config.InterOpThreads);
        Assert.Equal(["cuda", "cpu"], config.ExecutionProviders);
        Assert.False(config.FallbackToCpu);
        Assert.Equal("labels.txt", config.LabelFiles["probabilities"]);
    }

    [Fact]
    public void Parse_RequireGpuAndSpinning_AreReadAndSpinningIsDerivedFromInstances()
    {
        ModelConfig gpu = ModelConfig.Parse("""{"execution_providers": ["cuda", "cpu"], "require_gpu": true, "allow_spinning": false}""");
        ModelConfig one = ModelConfig.Parse("{}"), two = ModelConfig.Parse("""{"instance_count": 2}"""),
            twoSpinning = ModelConfig.Parse("""{"instance_count": 2, "allow_spinning": true}""");

        Assert.True(gpu.RequireGpu);
        Assert.False(ServedModel.SpinningFor(gpu));
        Assert.False(one.RequireGpu);
        Assert.Equal((true, false, true), (ServedModel.SpinningFor(one), ServedModel.SpinningFor(two), ServedModel.SpinningFor(twoSpinning)));
    }

    [Theory]
    [InlineData("""{"require_gpu": true}""", "'require_gpu' needs a GPU provider in 'execution_providers'")]
    [InlineData("""{"execution_providers": ["cpu"], "require_gpu": true}""", "'require_gpu' needs a GPU provider")]
    [InlineData("""{"require_gpu": "yes"}""", "'require_gpu' must be true or false")]
    [InlineData("""{"allow_spinning": 1}""", "'allow_spinning' must be true or false")]
    public void Parse_BadGpuOrSpinningSettings_AreRefused(string json, string expected)
    {
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Parse_OnTopOfDefaults_ReplacesOnlyTheSettingsGiven()
    {
        var defaults = new ModelConfig { MaxBatchSize = 8, InstanceCount = 3, ExecutionProviders = ["cuda", "cpu"] };

        ModelConfig config = ModelConfig.Parse("""{"instance_count": 1}""", defaults);

        Assert.Equal(8, config.MaxBatchSize);
        Assert.Equal(1, config.InstanceCount);
        Assert.Equal(["cuda", "cpu"], config.ExecutionProviders);
        Assert.Equal(3, defaults.InstanceCount);
    }

    [Fact]
    public void Parse_SeveralProblems_ReportsThemAllAtOnce()
    {
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse("""
            {"max_batch_size": -1, "instance_count": 0, "instanse_count": 2, "execution_providers": [], "fallback_to_cpu": "yes", "label_files": ["x"]}
            """));

        Assert.Contains("'max_batch_size' must be an integer >= 0, got -1", error.Message);
        Assert.Contains("'instance_count' must be an integer >= 1, got 0", error.Message);
        Assert.Contains("unknown setting 'instanse_count'", error.Message);
        Assert.Contains("'execution_providers' must be a non-empty array", error.Message);
        Assert.Contains("'fallback_to_cpu' must be true or false", error.Message);
        Assert.Contains("'label_files' must map output names", error.Message);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[1]", "must be a JSON object")]
    [InlineData("""{"max_batch_size": 1.5}""", "'max_batch_size' must be an integer")]
    [InlineData("""{"max_batch_size": "8"}""", "'max_batch_size' must be an integer")]
    public void Parse_Malformed_SaysWhatWasExpected(string json, string message)
    {
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json));

        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData(1, 0, 8, 8)]
    [InlineData(2, 0, 8, 4)]
    [InlineData(3, 0, 2, 1)]
    [InlineData(2, 8, 8, 4)]
    [InlineData(2, 2, 8, 2)]
    public void ThreadBudget_InstancesShareTheCoresOnce(int instances, int intraOp, int cores, int expected)
    {
        var config = new ModelConfig { InstanceCount = instances, IntraOpThreads = intraOp };

        Assert.Equal(expected, ServedModel.IntraOpThreadsFor(config, cores));
    }

    [Fact]
    public void DynamicBatching_ParsesDelayAndPreferredSizes()
    {
        ModelConfig config = ModelConfig.Parse("""{"max_batch_size": 16, "dynamic_batching": {"max_queue_delay_microseconds": 250, "preferred_batch_size": [8, 4]}, "max_queue_size": 10, "response_cache": true}""");

        Assert.Equal(250, config.DynamicBatching!.MaxQueueDelayMicroseconds);
        Assert.Equal([4, 8], config.DynamicBatching.PreferredBatchSizes);
        Assert.Equal(10, config.MaxQueueSize);
        Assert.True(config.ResponseCache);
    }

    [Theory]
    [InlineData("""{"dynamic_batching": {}}""", "max_batch_size")]
    [InlineData("""{"max_batch_size": 4, "dynamic_batching": {"preferred_batch_size": [0]}}""", "positive")]
    [InlineData("""{"max_batch_size": 4, "dynamic_batching": {"delay": 5}}""", "dynamic_batching.delay")]
    [InlineData("""{"max_batch_size": 4, "dynamic_batching": true}""", "must be an object")]
    [InlineData("""{"max_queue_size": 0}""", "max_queue_size")]
    [InlineData("""{"response_cache": "yes"}""", "response_cache")]
    public void SchedulingSettings_BadValues_AreErrors(string json, string message)
    {
        var error = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json));

        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Parse_PrivacyAndElementCap_AreModelLevelSettings()
    {
        ModelConfig config = ModelConfig.Parse("""
            {"sensitive_inputs": ["ssn", "income"], "sensitive_parameters": ["customer_id"], "max_tensor_elements": 4096}
            """);

        Assert.Equal(["ssn", "income"], config.SensitiveInputs);
        Assert.Equal(["customer_id"], config.SensitiveParameters);
        Assert.Equal(4096, config.MaxTensorElements);
        Assert.Empty(ModelConfig.Default.SensitiveInputs);
        Assert.Equal(0, ModelConfig.Default.MaxTensorElements);
    }

    [Fact]
    public void Parse_PayloadLoggingSensitiveInputs_TheOlderSpelling_MarksThemSensitiveEverywhere()
    {
        ModelConfig config = ModelConfig.Parse("""
            {"sensitive_inputs": ["ssn"], "payload_logging": {"sample_rate": 0.5, "sensitive_inputs": ["ssn", "dob"]}}
            """);

        Assert.Equal(["ssn", "dob"], config.SensitiveInputs);
        Assert.Equal(0.5, config.PayloadLogging!.SampleRate);
    }

    [Fact]
    public void Parse_BadPrivacySettings_AreReportedTogether()
    {
        var e = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse("""
            {"sensitive_inputs": "ssn", "sensitive_parameters": [1], "max_tensor_elements": -1}
            """));

        Assert.Contains("'sensitive_inputs' must be an array of names", e.Message);
        Assert.Contains("'sensitive_parameters' must be an array of names", e.Message);
        Assert.Contains("'max_tensor_elements' must be an integer >= 0, got -1", e.Message);
    }
}
