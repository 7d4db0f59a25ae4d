using Quiver.Cli.Admin;
using Quiver.Cli.Rollouts;
using Quiver.Cli.Tests.Models;

namespace Quiver.Cli.Tests.Rollouts;

/// <summary>The arguments of the rollout, experiment and endpoint commands: what they parse to, and how bad ones fail before anything is sent.</summary>
public sealed class RolloutArgumentsTests
{
    // Nothing listens here: a command that sent anything would exit 1 (connection refused), not 2.
    private const string NoServer = "http://127.0.0.1:1";

    [Theory]
    [InlineData("5,25,50,100", new[] { 5, 25, 50, 100 })]
    [InlineData("10, 100", new[] { 10, 100 })]
    [InlineData("50%,100%", new[] { 50, 100 })]
    [InlineData("100", new[] { 100 })]
    public void Steps_AreWholePercentages(string text, int[] expected)
    {
        Assert.Equal(expected, RolloutArguments.Steps(text));
    }

    [Theory]
    [InlineData("120", 120)]
    [InlineData("120s", 120)]
    [InlineData("2m", 120)]
    [InlineData("1.5m", 90)]
    [InlineData("1h", 3600)]
    [InlineData(" 30s ", 30)]
    public void Interval_IsSecondsOrANumberWithAUnit(string text, double seconds)
    {
        Assert.Equal(seconds, RolloutArguments.Interval(text));
    }

    [Theory]
    [InlineData("1%", 0.01)]
    [InlineData("0.5%", 0.005)]
    [InlineData("0.01", 0.01)]
    [InlineData("0", 0)]
    [InlineData("1", 1)]
    [InlineData("100%", 1)]
    public void Fraction_TakesAPercentageOrAFraction(string text, double expected)
    {
        Assert.Equal(expected, RolloutArguments.Fraction("--max-error-rate", text), precision: 12);
    }

    [Fact]
    public void Variant_ReadsNameModelVersionAndWeight()
    {
        Assert.Equal(new VariantRequest("control", "iris", "1", 50), RolloutArguments.Variant("control=iris:1:50"));
        Assert.Equal(new VariantRequest("new", "iris", "staging", 12.5), RolloutArguments.Variant("new=iris:staging:12.5"));
        Assert.Equal(new VariantRequest("default", "iris", "", 100), RolloutArguments.Variant("default=iris::100%"));
    }

    [Fact]
    public void Shadow_ReadsModelVersionAndPercent()
    {
        Assert.Equal(new ShadowRequest("iris", "3", 10), RolloutArguments.Shadow("iris:3:10"));
        Assert.Equal(new ShadowRequest("iris", "", 0.5), RolloutArguments.Shadow("iris::0.5%"));
    }

    [Theory]
    [InlineData("--steps '5,x,100' is not a list of whole percentages such as 5,25,50,100.", "steps", "5,x,100")]
    [InlineData("--steps '5,,100' is not a list of whole percentages such as 5,25,50,100.", "steps", "5,,100")]
    [InlineData("--steps '-5,100' is not a list of whole percentages such as 5,25,50,100.", "steps", "-5,100")]
    [InlineData("--interval '2 minutes' is not a duration: give seconds (120) or a number with s, m or h (120s, 2m, 1h).", "interval", "2 minutes")]
    [InlineData("--interval '0s' is not a duration: give seconds (120) or a number with s, m or h (120s, 2m, 1h).", "interval", "0s")]
    [InlineData("--interval '' is not a duration: give seconds (120) or a number with s, m or h (120s, 2m, 1h).", "interval", "")]
    [InlineData("--max-error-rate '5' is above 1: give a percentage as 5% or a fraction such as 0.01.", "fraction", "5")]
    [InlineData("--max-error-rate 'one%' is not a rate: give a percentage such as 1% or a fraction such as 0.01.", "fraction", "one%")]
    [InlineData("--max-error-rate '101%' is not a rate: give a percentage such as 1% or a fraction such as 0.01.", "fraction", "101%")]
    [InlineData("--max-error-rate 'NaN' is not a rate: give a percentage such as 1% or a fraction such as 0.01.", "fraction", "NaN")]
    [InlineData("--variant 'control' is not NAME=MODEL:VERSION:WEIGHT", "variant", "control")]
    [InlineData("--variant '=iris:1:50' is not NAME=MODEL:VERSION:WEIGHT", "variant", "=iris:1:50")]
    [InlineData("--variant 'a=iris:50' is not NAME=MODEL:VERSION:WEIGHT", "variant", "a=iris:50")]
    [InlineData("--variant 'a=:1:50' is not NAME=MODEL:VERSION:WEIGHT", "variant", "a=:1:50")]
    [InlineData("--variant 'a=iris:1:half': the weight 'half' is not a percentage from 0 to 100.", "variant", "a=iris:1:half")]
    [InlineData("--variant 'a=iris:1:150': the weight '150' is not a percentage from 0 to 100.", "variant", "a=iris:1:150")]
    [InlineData("--shadow 'iris:3' is not MODEL:VERSION:PERCENT, e.g. iris:3:10.", "shadow", "iris:3")]
    [InlineData("--shadow 'iris:3:0': the percent '0' is not above 0 and at most 100.", "shadow", "iris:3:0")]
    [InlineData("--to '0' is not a version number: expected a positive whole number such as 3.", "version", "0")]
    [InlineData("--to 'v2' is not a version number: expected a positive whole number such as 3.", "version", "v2")]
    [InlineData("--alpha '1' is not a significance level: give a number between 0 and 1 such as 0.05.", "alpha", "1")]
    public void BadValues_AreRefusedWithTheOptionAndAnExample(string message, string kind, string text)
    {
        Action parse = kind switch
        {
            "steps" => () => RolloutArguments.Steps(text),
            "interval" => () => RolloutArguments.Interval(text),
            "fraction" => () => RolloutArguments.Fraction("--max-error-rate", text),
            "variant" => () => RolloutArguments.Variant(text),
            "shadow" => () => RolloutArguments.Shadow(text),
            "version" => () => RolloutArguments.Version(text),
            _ => () => RolloutArguments.Alpha(text),
        };

        UsageException refused = Assert.Throws<UsageException>(parse);

        Assert.StartsWith(message, refused.Message);
    }

    [Fact]
    public void RolloutStart_SendsOnlyTheSettingsGiven()
    {
        var bare = new RolloutStart { Model = "iris", To = 3 };
        var full = bare with { Steps = [10, 100], IntervalSeconds = 90, MaxErrorRate = 0.005, MaxP99LatencyRatio = 1.5, MinimumRequests = 50 };

        Assert.Equal("""{"model":"iris","to":3}""", bare.ToJson().ToJsonString());
        Assert.Equal("""{"model":"iris","to":3,"steps":[10,100],"interval_seconds":90,"max_error_rate":0.005,"max_p99_latency_ratio":1.5,"minimum_requests":50}""",
            full.ToJson().ToJsonString());
    }

    [Fact]
    public void EndpointRequest_HasTheServersShape()
    {
        var request = new EndpointRequest(
            [new VariantRequest("a", "iris", "1", 90), new VariantRequest("b", "iris", "", 10)],
            new ExperimentRequest("binary", 100, null),
            new ShadowRequest("iris", "3", 5));

        Assert.Equal(
            """{"variants":[{"name":"a","model":"iris","version":"1","weight":90},{"name":"b","model":"iris","version":"","weight":10}],"experiment":{"metric":"binary","minimum_samples":100},"shadow":{"model":"iris","version":"3","percent":5}}""",
            request.ToJson().ToJsonString());
    }

    [Fact]
    public void Experiment_OptionsOnlyMakeSenseTogether()
    {
        Assert.Null(EndpointCommand.Experiment(null, null, null));
        Assert.Equal(new ExperimentRequest("numeric", 50, 0.01), EndpointCommand.Experiment("numeric", 50, 0.01));
        Assert.Contains("--experiment needs --minimum-samples", Assert.Throws<UsageException>(() => EndpointCommand.Experiment("binary", null, null)).Message);
        Assert.Contains("add --experiment", Assert.Throws<UsageException>(() => EndpointCommand.Experiment(null, 100, null)).Message);
    }

    [Theory]
    [InlineData("--to 'two' is not a version number", "rollout", "start", "iris", "--to", "two")]
    [InlineData("--to '-1' is not a version number", "rollout", "start", "iris", "--to", "-1")]
    [InlineData("Option '--to' is required.", "rollout", "start", "iris")]
    [InlineData("--steps '5;25' is not a list", "rollout", "start", "iris", "--to", "2", "--steps", "5;25")]
    [InlineData("--interval 'soon' is not a duration", "rollout", "start", "iris", "--to", "2", "--interval", "soon")]
    [InlineData("--max-error-rate '2' is above 1", "rollout", "start", "iris", "--to", "2", "--max-error-rate", "2")]
    [InlineData("--max-p99-latency-ratio '0' is not a number above 0", "rollout", "start", "iris", "--to", "2", "--max-p99-latency-ratio", "0")]
    [InlineData("--minimum-requests '0' is not a whole number of at least 1", "rollout", "start", "iris", "--to", "2", "--minimum-requests", "0")]
    [InlineData("'quiver rollout' needs a subcommand: start, status, list, pause, resume, abort, promote.", "rollout")]
    [InlineData("MODEL must not be empty.", "rollout", "abort", "")]
    [InlineData("unrecognized argument 'extra'", "rollout", "status", "iris", "extra")]
    [InlineData("--winner must name a variant.", "experiment", "conclude", "ab", "--winner", " ")]
    [InlineData("'quiver experiment' needs a subcommand: status, conclude.", "experiment")]
    [InlineData("--variant 'a=iris' is not NAME=MODEL:VERSION:WEIGHT", "endpoint", "set", "ab", "--variant", "a=iris")]
    [InlineData("Option '--variant' is required.", "endpoint", "set", "ab")]
    [InlineData("--experiment needs --minimum-samples N", "endpoint", "set", "ab", "--variant", "a=iris:1:50", "--variant", "b=iris:2:50", "--experiment", "binary")]
    [InlineData("--minimum-samples and --alpha belong to an experiment", "endpoint", "set", "ab", "--variant", "a=iris:1:100", "--alpha", "0.1")]
    [InlineData("--minimum-samples '1' is not a whole number of at least 2", "endpoint", "set", "ab", "--variant", "a=iris:1:100", "--experiment", "binary", "--minimum-samples", "1")]
    [InlineData("--shadow 'iris' is not MODEL:VERSION:PERCENT", "endpoint", "set", "ab", "--variant", "a=iris:1:100", "--shadow", "iris")]
    [InlineData("'quiver endpoint' needs a subcommand: set, show, list, remove.", "endpoint")]
    public async Task BadArguments_Exit2AndSendNothing(string message, params string[] args)
    {
        CliRun run = await ModelsCli.RunAsync([.. args, "--server", NoServer]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Equal("", run.Output);
        Assert.Contains("error: " + message, run.Error);
        Assert.EndsWith("--help'.\n", run.Error);
    }
}
