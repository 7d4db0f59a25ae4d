using Quiver.Core.Batch;

namespace Quiver.Core.Tests.Batch;

/// <summary>Shard specs, and shards merged back into what one unsharded run writes.</summary>
public sealed class ShardTests : IDisposable
{
    private readonly BatchFixture _files = new();

    public void Dispose() => _files.Dispose();

    [Theory]
    [InlineData("3/2", "must be below N")]
    [InlineData("2/2", "must be below N")]
    [InlineData("0/0", "at least 1")]
    [InlineData("-1/2", "is not K/N")]
    [InlineData("1", "is not K/N")]
    [InlineData("a/b", "is not K/N")]
    [InlineData("", "is not K/N")]
    public void Parse_BadSpec_IsRefused(string spec, string reason)
    {
        var e = Assert.Throws<BatchException>(() => ShardSpec.Parse(spec));

        Assert.Equal(BatchErrorKind.Usage, e.Kind);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Parse_GoodSpec_OwnsEveryNthRow()
    {
        ShardSpec shard = ShardSpec.Parse("1/3");

        Assert.Equal([1L, 4L, 7L], Enumerable.Range(0, 9).Select(i => (long)i).Where(shard.Owns));
        Assert.True(ShardSpec.Parse("0/1").Owns(12345));
    }

    [Theory]
    [InlineData("jsonl")]
    [InlineData("csv")]
    public void ShardsMerged_AreIdenticalToOneUnshardedRun(string extension)
    {
        string model = _files.Mlp();
        List<string> lines = File.ReadAllLines(_files.Csv("clean.csv", BatchFixture.RandomRows(333))).ToList();
        lines.Insert(50, "bad,1,2,3");
        string input = _files.Text("in.csv", string.Join("\n", lines) + "\n");
        BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = _files.Path($"all.{extension}"), BatchSize = 10 });
        var parts = new List<string>();
        for (int k = 0; k < 3; k++)
        {
            string part = _files.Path($"part{k}.{extension}");
            BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = part, BatchSize = 10, Shard = new ShardSpec(k, 3) });
            parts.Add(part);
        }

        MergeResult merged = BatchMerge.Merge([parts[2], parts[0], parts[1]], _files.Path($"merged.{extension}"), overwrite: false);

        Assert.Equal(333, merged.Rows);
        Assert.Empty(merged.Warnings);
        Assert.Equal(File.ReadAllBytes(_files.Path($"all.{extension}")), File.ReadAllBytes(_files.Path($"merged.{extension}")));
    }

    [Fact]
    public void Merge_MissingShard_IsRefused()
    {
        string[] parts = RunShards(3);

        var e = Assert.Throws<BatchException>(() => BatchMerge.Merge([parts[0], parts[2]], _files.Path("merged.jsonl"), overwrite: false));

        Assert.Equal("shard 1/3 of the job is missing from the parts.", e.Message);
    }

    [Fact]
    public void Merge_UnfinishedPart_IsRefused()
    {
        string[] parts = RunShards(2);
        string checkpoint = parts[1] + ".checkpoint.json";
        BatchCheckpoint.Load(checkpoint).With(c => c with { Completed = false }).Save(checkpoint);

        var e = Assert.Throws<BatchException>(() => BatchMerge.Merge(parts, _files.Path("merged.jsonl"), overwrite: false));

        Assert.Contains("is unfinished", e.Message);
    }

    [Fact]
    public void Merge_OverlappingPartsWithoutCheckpoints_AreRefused()
    {
        string[] parts = RunShards(2);
        File.Copy(parts[0], _files.Path("copy.jsonl"));
        File.Delete(parts[0] + ".checkpoint.json");

        var e = Assert.Throws<BatchException>(() => BatchMerge.Merge([parts[0], _files.Path("copy.jsonl")], _files.Path("merged.jsonl"), overwrite: false));

        Assert.Contains("appears in more than one part", e.Message);
    }

    [Fact]
    public void Merge_OutputExists_IsRefusedWithoutOverwrite()
    {
        string[] parts = RunShards(2);
        File.WriteAllText(_files.Path("merged.jsonl"), "keep");

        var e = Assert.Throws<BatchException>(() => BatchMerge.Merge(parts, _files.Path("merged.jsonl"), overwrite: false));

        Assert.Equal(BatchErrorKind.Output, e.Kind);
    }

    private string[] RunShards(int count)
    {
        string model = _files.Mlp();
        string input = _files.Csv("in.csv", BatchFixture.RandomRows(40));
        return Enumerable.Range(0, count).Select(k =>
        {
            string part = _files.Path($"part{k}.jsonl");
            BatchFixture.Run(model, new BatchOptions { InputPath = input, OutputPath = part, Shard = new ShardSpec(k, count) });
            return part;
        }).ToArray();
    }
}

internal static class CheckpointExtensions
{
    public static BatchCheckpoint With(this BatchCheckpoint checkpoint, Func<BatchCheckpoint, BatchCheckpoint> change) => change(checkpoint);
}
