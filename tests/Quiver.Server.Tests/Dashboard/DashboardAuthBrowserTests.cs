using System.Collections.Concurrent;
using Microsoft.Playwright;
using Quiver.Server.Tests.Security;

namespace Quiver.Server.Tests.Dashboard;

/// <summary>
/// The dashboard in real headless Chromium on a server with authentication on (<see cref="SecuredServer"/>): the page
/// loads without credentials and asks for an API key, sends it only as <c>Authorization: Bearer</c>, keeps it in the
/// tab's sessionStorage, and says why a key is refused. Every wait is for a condition on the page.
/// </summary>
[Collection(SecuredServerCollection.Name)]
public sealed class DashboardAuthBrowserTests(SecuredServer secured, ChromiumFixture chromium) : IClassFixture<ChromiumFixture>
{
    private const string KeyItem = "quiver.apiKey";

    private Uri PageUrl => new(secured.Server.Server.HttpAddress, "ui/");

    [Fact]
    public async Task PageFiles_LoadWithoutCredentials_ButTheirDataNeedsAKey()
    {
        (int page, _, _) = await secured.SendAsync(HttpMethod.Get, "/ui/", null);
        (int script, _, _) = await secured.SendAsync(HttpMethod.Get, "/ui/dashboard.js", null);
        (int data, string body, _) = await secured.SendAsync(HttpMethod.Get, "/v2/admin/dashboard", null);

        Assert.Equal(200, page);
        Assert.Equal(200, script);
        Assert.Equal(401, data);
        Assert.Contains("authentication required", body);
    }

    [Fact]
    public async Task Page_AsksForAKey_ThenShowsTheModels_SendingTheKeyOnlyAsABearerHeader()
    {
        string viewer = secured.Keys["viewer"].Key;
        var requests = new ConcurrentQueue<IRequest>();
        var console = new ConcurrentQueue<string>();
        var (page, errors) = await chromium.OpenAsync(PageUrl, beforeLoad: p =>
        {
            p.Request += (_, request) => requests.Enqueue(request);
            p.Console += (_, message) => console.Enqueue(message.Text);
        });

        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'auth'");
        Assert.True(await page.Locator("#auth").IsVisibleAsync());
        Assert.Contains("requires authentication", await page.Locator("#auth-message").TextContentAsync());
        Assert.Equal(0, await page.Locator("#model-rows tr").CountAsync());

        await page.Locator("#auth-key").FillAsync(viewer);
        await page.Locator("#auth-form button[type=submit]").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('#model-rows tr[data-model=\"shared\"]') !== null");
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'live'");

        Assert.False(await page.Locator("#auth").IsVisibleAsync());
        Assert.True(await page.Locator("#auth-forget").IsVisibleAsync());
        Assert.Equal("", await page.Locator("#auth-key").InputValueAsync());
        Assert.Equal(viewer, await page.EvaluateAsync<string?>("k => sessionStorage.getItem(k)", KeyItem));

        // A viewer may not read the audit log: the panel says so, and the page does not ask again with this key.
        await page.WaitForFunctionAsync("() => document.getElementById('audit-error').textContent.startsWith('This key does not have the admin role')");
        int auditRequests = Count(requests, "/v2/admin/audit");
        int dashboardRequests = Count(requests, "/v2/admin/dashboard");
        await page.WaitForFunctionAsync("""
            n => performance.getEntriesByType('resource').filter(e => e.name.includes('/v2/admin/dashboard')).length >= n
            """, dashboardRequests + 3); // three more polls: a second each, past the audit panel's two-second interval
        Assert.Equal(auditRequests, Count(requests, "/v2/admin/audit"));

        // The key went only in Authorization, on the page's own API calls: never in a URL, never in the console.
        var withKey = new List<string>();
        foreach (IRequest request in requests)
        {
            Assert.DoesNotContain(viewer, request.Url, StringComparison.Ordinal);
            Dictionary<string, string> headers = await request.AllHeadersAsync();
            if (headers.TryGetValue("authorization", out string? authorization))
            {
                Assert.Equal("Bearer " + viewer, authorization);
                withKey.Add(new Uri(request.Url).AbsolutePath);
            }

            Assert.DoesNotContain(headers, h => h.Key != "authorization" && h.Value.Contains(viewer, StringComparison.Ordinal));
        }

        Assert.Contains("/v2/admin/dashboard", withKey);
        Assert.All(withKey, path => Assert.StartsWith("/v2/admin/", path));
        Assert.DoesNotContain(console, m => m.Contains(viewer, StringComparison.Ordinal));

        // The key survives a reload of the tab, and Forget key removes it.
        await page.ReloadAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('#model-rows tr[data-model=\"shared\"]') !== null");
        await page.Locator("#auth-forget").ClickAsync();
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'auth'");
        Assert.Null(await page.EvaluateAsync<string?>("k => sessionStorage.getItem(k)", KeyItem));
        Assert.Contains("requires authentication", await page.Locator("#auth-message").TextContentAsync());

        // An admin key brings the audit panel back.
        await page.Locator("#auth-key").FillAsync(secured.Keys["admin"].Key);
        await page.Locator("#auth-form button[type=submit]").ClickAsync();
        await page.WaitForFunctionAsync("""
            () => document.getElementById('audit-error').hidden
              && (!document.getElementById('audit-empty').hidden || !document.getElementById('audit-wrap').hidden)
            """);
        AssertOnlyRefusalsLogged(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task Page_RefusedKeys_SayWhy_AndAreNotKept()
    {
        var (page, errors) = await chromium.OpenAsync(PageUrl);
        await page.WaitForFunctionAsync("() => document.getElementById('status').dataset.state === 'auth'");

        // A key without the viewer role: the server's 403 names the key and the role it needs.
        await UseKeyAsync(page, secured.Keys["predictor"].Key);
        await WaitForMessageAsync(page, "may not read the dashboard");
        string? forbidden = await page.Locator("#auth-message").TextContentAsync();
        Assert.Contains("'test-predictor' may not call GET /v2/admin/dashboard: it needs the viewer role", forbidden);
        Assert.Null(await page.EvaluateAsync<string?>("k => sessionStorage.getItem(k)", KeyItem));

        // A key the server does not know: 401, with the server's reason.
        await UseKeyAsync(page, "qk_00000000000000aa_" + new string('A', 43));
        await WaitForMessageAsync(page, "The server refused the key");
        Assert.Contains("unknown API key 00000000000000aa", await page.Locator("#auth-message").TextContentAsync());
        Assert.Equal("auth", await page.Locator("#status").GetAttributeAsync("data-state"));
        Assert.Null(await page.EvaluateAsync<string?>("k => sessionStorage.getItem(k)", KeyItem));

        // Text that cannot be a key is not sent at all.
        await UseKeyAsync(page, "not a key");
        await WaitForMessageAsync(page, "That is not an API key");
        Assert.Null(await page.EvaluateAsync<string?>("k => sessionStorage.getItem(k)", KeyItem));
        AssertOnlyRefusalsLogged(errors);
        await page.CloseAsync();
    }

    private static async Task UseKeyAsync(IPage page, string key)
    {
        await page.Locator("#auth-key").FillAsync(key);
        await page.Locator("#auth-form button[type=submit]").ClickAsync();
    }

    private static Task WaitForMessageAsync(IPage page, string text) =>
        page.WaitForFunctionAsync("t => document.getElementById('auth-message').textContent.includes(t)", text);

    private static int Count(IEnumerable<IRequest> requests, string path) =>
        requests.Count(r => new Uri(r.Url).AbsolutePath == path);

    // Chromium logs each 401 and 403 answer as a console error ("Failed to load resource"); anything else is a fault.
    private static void AssertOnlyRefusalsLogged(List<string> errors)
    {
        lock (errors)
        {
            string[] others = [.. errors.Where(e => !(e.Contains("Failed to load resource", StringComparison.Ordinal)
                && (e.Contains("401", StringComparison.Ordinal) || e.Contains("403", StringComparison.Ordinal))))];
            Assert.True(others.Length == 0, "the page reported errors:\n" + string.Join("\n", others));
        }
    }
}
