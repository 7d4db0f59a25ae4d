using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Batch;
using Quiver.Core.Models;
using Quiver.Server.Audit;
using Quiver.Server.Security;

namespace Quiver.Server.Rest;

/// <summary>
/// Server-side batch jobs under <c>/v2/admin/batch/jobs</c>: submit (a file on the server and a served model), list,
/// show progress, cancel (DELETE), download the output and the error file. Jobs run one at a time in the models'
/// batch priority class; unfinished ones resume after a restart.
/// </summary>
internal static class BatchJobEndpoints
{
    public static void MapBatchJobs(this IEndpointRouteBuilder routes, BatchJobManager jobs, QuiverServerOptions options)
    {
        routes.MapPost("/v2/admin/batch/jobs", async (HttpContext context) =>
        {
            if (context.Request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            {
                await UploadAsync(context, jobs);
                return;
            }

            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            BatchJobSpec? spec = body is null ? null : Read(body.RootElement);
            if (spec is null)
            {
                await V2Endpoints.WriteErrorAsync(context, 400,
                    "the body must be a JSON object with \"model\" and \"input\" (a file path on the server), optionally \"output\" and \"overwrite\"; see docs/batch.md.");
                return;
            }

            try
            {
                string? hidden = await HiddenModelMessageAsync(context, spec.Model);
                BatchJob job = await Task.Run(() => jobs.Submit(spec, hidden), context.RequestAborted);
                context.Response.Headers.Location = $"/v2/admin/batch/jobs/{job.Id}";
                AuditScope.SetResource(context, $"batch/jobs/{job.Id}");
                AuditScope.Note(context, "model", spec.Model);
                await WriteAsync(context, 201, job);
            }
            catch (BatchException e)
            {
                await V2Endpoints.WriteErrorAsync(context, e.Kind == BatchErrorKind.ModelNotFound ? 404 : 400, e.Message);
            }
        }).Audited("batch.submit", "batch/jobs");

        routes.MapGet("/v2/admin/batch/jobs", async (HttpContext context) =>
        {
            Func<string, bool> visible = await ModelVisibility.FilterAsync(context);
            await WriteAsync(context, 200, new Dictionary<string, object> { ["jobs"] = jobs.List().Where(j => visible(j.Spec.Model)).ToList() });
        });

        routes.MapGet("/v2/admin/batch/jobs/{id}", async (HttpContext context, string id) =>
        {
            if (await FindAsync(context, jobs, id) is { } job)
            {
                await WriteAsync(context, 200, job);
                return;
            }

            await NotFound(context, id);
        });

        routes.MapDelete("/v2/admin/batch/jobs/{id}", async (HttpContext context, string id) =>
        {
            if (await FindAsync(context, jobs, id) is not null && jobs.Cancel(id) is { } job)
            {
                await WriteAsync(context, 200, job);
                return;
            }

            await NotFound(context, id);
        }).Audited("batch.cancel", "batch/jobs/{id}");

        routes.MapGet("/v2/admin/batch/jobs/{id}/output", (HttpContext context, string id) => DownloadAsync(context, jobs, id, errors: false));
        routes.MapGet("/v2/admin/batch/jobs/{id}/errors", (HttpContext context, string id) => DownloadAsync(context, jobs, id, errors: true));
    }

    // The input in the body (text/csv, application/x-ndjson, or any type with ?input_format=), the job in the query:
    // ?model=NAME&version=&output=&overwrite=&output_format=&map=INPUT=COL,COL&batch_size=&max_errors=&rows_per_second=&delimiter=.
    // The body is sealed as it arrives (see UploadCipher): no cell of it is ever on disk in clear.
    private static async Task UploadAsync(HttpContext context, BatchJobManager jobs)
    {
        IQueryCollection query = context.Request.Query;
        string? Text(string key) => query.TryGetValue(key, out var value) && !string.IsNullOrEmpty(value.ToString()) ? value.ToString() : null;
        string? media = context.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        string? format = Text("input_format") ?? media switch
        {
            "text/csv" => "csv",
            "application/x-ndjson" or "application/jsonl" or "application/jsonlines" => "jsonl",
            "application/x-npy" => "npy",
            _ => null,
        };
        if (Text("model") is not { } model || format is null || BatchFormats.ParseInput(format) is not { } inputFormat)
        {
            await V2Endpoints.WriteErrorAsync(context, 400,
                "an uploaded input needs ?model=NAME and a format: Content-Type text/csv, application/x-ndjson or application/x-npy, or ?input_format=csv|jsonl|npy.");
            return;
        }

        // An input file may be far larger than an inference request; the disk bounds it instead.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        try
        {
            var map = new Dictionary<string, string[]>(StringComparer.Ordinal);
            foreach (string? entry in query["map"])
            {
                int equals = entry?.IndexOf('=') ?? -1;
                if (equals <= 0)
                {
                    throw new BatchException(BatchErrorKind.Usage, $"map '{entry}' is not INPUT=COL1,COL2,….");
                }

                map[entry![..equals]] = entry[(equals + 1)..].Split(',', StringSplitOptions.TrimEntries);
            }

            var spec = new BatchJobSpec
            {
                Model = model,
                Version = Text("version"),
                Input = "", // the upload's path, chosen by the job manager
                InputFormat = inputFormat.Name(),
                OutputFormat = Text("output_format"),
                Output = Text("output"),
                Overwrite = Text("overwrite") is { } overwrite && (overwrite == "true" || overwrite == "1"),
                Delimiter = Text("delimiter"),
                Map = map.Count == 0 ? null : map,
                BatchSize = Number(Text("batch_size"), "batch_size") is { } size ? (int)size : null,
                MaxErrors = Number(Text("max_errors"), "max_errors"),
                RowsPerSecond = Number(Text("rows_per_second"), "rows_per_second"),
            };
            string? hidden = await HiddenModelMessageAsync(context, model);
            BatchJob job = await jobs.SubmitUploadAsync(spec, context.Request.Body, inputFormat, hidden, context.RequestAborted);
            context.Response.Headers.Location = $"/v2/admin/batch/jobs/{job.Id}";
            await WriteAsync(context, 201, job);
        }
        catch (BatchException e)
        {
            await V2Endpoints.WriteErrorAsync(context, e.Kind == BatchErrorKind.ModelNotFound ? 404 : 400, e.Message);
        }
    }

    private static long? Number(string? text, string name) =>
        text is null ? null
        : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value) ? value
        : throw new BatchException(BatchErrorKind.Usage, $"{name} must be a whole number, got '{text}'.");

    private static async Task DownloadAsync(HttpContext context, BatchJobManager jobs, string id, bool errors)
    {
        if (await FindAsync(context, jobs, id) is not { } job)
        {
            await NotFound(context, id);
            return;
        }

        if (!errors && job.State != BatchJobState.Completed)
        {
            await V2Endpoints.WriteErrorAsync(context, 409, $"job '{id}' is {Name(job.State)}; its output is complete only once it is completed.");
            return;
        }

        string path = errors ? job.ErrorsPath : job.OutputPath;
        if (!File.Exists(path))
        {
            await V2Endpoints.WriteErrorAsync(context, 404, $"job '{id}' has no {(errors ? "error file" : "output")} yet.");
            return;
        }

        context.Response.ContentType = path.EndsWith(".csv", StringComparison.Ordinal) ? "text/csv; charset=utf-8" : "application/x-ndjson";
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        context.Response.ContentLength = file.Length;
        await file.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    private static BatchJobSpec? Read(JsonElement body)
    {
        try
        {
            return JsonSerializer.Deserialize<BatchJobSpec>(body, BatchJob.Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    // A job for a model the caller may not see (another tenant's) reads as an unknown id.
    private static async Task<BatchJob?> FindAsync(HttpContext context, BatchJobManager jobs, string id) =>
        jobs.Get(id) is { } job && await ModelVisibility.AllowsAsync(context, job.Spec.Model) ? job : null;

    // What the catalog says of a missing model, for a model the caller may not see; null for one it may.
    private static async Task<string?> HiddenModelMessageAsync(HttpContext context, string? model) =>
        string.IsNullOrEmpty(model) || await ModelVisibility.AllowsAsync(context, model) ? null : ModelCatalog.UnknownModelMessage(model);

    private static Task NotFound(HttpContext context, string id) =>
        V2Endpoints.WriteErrorAsync(context, 404, $"no batch job '{id}'.");

    private static string Name(BatchJobState state) => state.ToString().ToLowerInvariant();

    private static async Task WriteAsync(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, value.GetType(), BatchJob.Json, context.RequestAborted);
    }
}
