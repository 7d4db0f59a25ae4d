using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Quiver.Core.Batch;

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
            using JsonDocument? body = await RepositoryEndpoints.ReadBodyAsync(context, options);
            BatchJobSpec? spec = body is null ? null : Read(body.RootElement);
            if (spec is null)
            {
                await V2Endpoints.WriteErrorAsync(context, 400,
                    "the body must be a JSON object with \"model\" and \"input\" (a file path on the server); see docs/batch.md.");
                return;
            }

            try
            {
                BatchJob job = await Task.Run(() => jobs.Submit(spec), context.RequestAborted);
                context.Response.Headers.Location = $"/v2/admin/batch/jobs/{job.Id}";
                await WriteAsync(context, 201, job);
            }
            catch (BatchException e)
            {
                await V2Endpoints.WriteErrorAsync(context, e.Kind == BatchErrorKind.ModelNotFound ? 404 : 400, e.Message);
            }
        });

        routes.MapGet("/v2/admin/batch/jobs", (HttpContext context) =>
            WriteAsync(context, 200, new Dictionary<string, object> { ["jobs"] = jobs.List() }));

        routes.MapGet("/v2/admin/batch/jobs/{id}", (HttpContext context, string id) =>
            jobs.Get(id) is { } job ? WriteAsync(context, 200, job) : NotFound(context, id));

        routes.MapDelete("/v2/admin/batch/jobs/{id}", (HttpContext context, string id) =>
            jobs.Cancel(id) is { } job ? WriteAsync(context, 200, job) : NotFound(context, id));

        routes.MapGet("/v2/admin/batch/jobs/{id}/output", (HttpContext context, string id) => DownloadAsync(context, jobs, id, errors: false));
        routes.MapGet("/v2/admin/batch/jobs/{id}/errors", (HttpContext context, string id) => DownloadAsync(context, jobs, id, errors: true));
    }

    private static async Task DownloadAsync(HttpContext context, BatchJobManager jobs, string id, bool errors)
    {
        if (jobs.Get(id) is not { } job)
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
            return JsonSerializer.Deserialize<BatchJobSpec>(body, FileBatchJobStore.Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static Task NotFound(HttpContext context, string id) =>
        V2Endpoints.WriteErrorAsync(context, 404, $"no batch job '{id}'.");

    private static string Name(BatchJobState state) => state.ToString().ToLowerInvariant();

    private static async Task WriteAsync(HttpContext context, int status, object value)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(context.Response.Body, value, value.GetType(), FileBatchJobStore.Json, context.RequestAborted);
    }
}
