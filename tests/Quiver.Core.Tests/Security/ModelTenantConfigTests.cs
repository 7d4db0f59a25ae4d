using Quiver.Core.Models;

namespace Quiver.Core.Tests.Security;

/// <summary>The owner tenant a repository model's config.json may name.</summary>
public sealed class ModelTenantConfigTests
{
    [Fact]
    public void Tenant_IsReadFromConfigJson_AndAbsentMeansShared()
    {
        Assert.Equal("acme", ModelConfig.Parse("""{"tenant": "acme"}""").Tenant);
        Assert.Null(ModelConfig.Parse("""{"warmup": false}""").Tenant);
    }

    [Theory]
    [InlineData("""{"tenant": ""}""")]
    [InlineData("""{"tenant": "a b"}""")]
    [InlineData("""{"tenant": 7}""")]
    public void ABadTenant_IsAnError_SayingWhatANameMayBe(string json)
    {
        var e = Assert.Throws<ModelConfigException>(() => ModelConfig.Parse(json));
        Assert.Contains("'tenant' must be a tenant name", e.Message);
    }
}
