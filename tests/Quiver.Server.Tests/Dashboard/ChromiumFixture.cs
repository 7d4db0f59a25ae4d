using Microsoft.Playwright;

namespace Quiver.Server.Tests.Dashboard;

/// <summary>
/// Real headless Chromium — Debian's <c>chromium</c> package, or <c>QUIVER_CHROMIUM</c> — driven by Playwright with
/// <c>ExecutablePath</c> (Playwright's own browser downloads are not reachable here). Missing Chromium fails the
/// tests that need it with the command that installs it; it never skips them.
/// </summary>
public sealed class ChromiumFixture : IAsyncLifetime
{
    /// <summary>Where Debian's package puts the browser.</summary>
    public const string DefaultPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public static string ExecutablePath => Environment.GetEnvironmentVariable("QUIVER_CHROMIUM") is { Length: > 0 } path ? path : DefaultPath;

    public async Task InitializeAsync()
    {
        string path = ExecutablePath;
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Chromium was not found at {path}. The dashboard tests run the page in real headless Chromium: install Debian's " +
                "package with 'apt-get install -y chromium' (.ci/run does), or set QUIVER_CHROMIUM to a Chromium or Chrome executable.");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = path,
            Headless = true,
            Timeout = 120_000, // a cold start on a loaded two-core machine
            Args = ["--disable-gpu", "--disable-dev-shm-usage"],
        });
    }

    /// <summary>
    /// A new page at <paramref name="url"/>, with every console error, page error and failed request it has collected;
    /// <paramref name="beforeLoad"/> can subscribe to the page's events before it loads.
    /// </summary>
    public async Task<(IPage Page, List<string> Errors)> OpenAsync(Uri url, int width = 1440, int height = 900, Action<IPage>? beforeLoad = null)
    {
        IPage page = await Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        page.SetDefaultTimeout(90_000);
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add("console: " + message.Text);
                }
            }
        };
        page.PageError += (_, error) =>
        {
            lock (errors)
            {
                errors.Add("page error: " + error);
            }
        };
        page.RequestFailed += (_, request) =>
        {
            lock (errors)
            {
                errors.Add($"request failed: {request.Url} {request.Failure}");
            }
        };
        beforeLoad?.Invoke(page);
        await page.GotoAsync(url.ToString());
        return (page, errors);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
