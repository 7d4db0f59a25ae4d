// Reads a .nettrace of the runtime's GC events (dotnet-trace, keyword 0x1 at verbose level) and prints where the
// sampled allocations came from: share of the sampled bytes, the type, and the first frames of the allocating stack.
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: alloc-profile TRACE.nettrace [ROWS]");
    return 2;
}

int rows = args.Length == 2 ? int.Parse(args[1]) : 25;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var bySite = new Dictionary<string, long>();
long total = 0;
foreach (var traceEvent in log.Events)
{
    if (traceEvent is not GCAllocationTickTraceData tick)
    {
        continue;
    }

    total += tick.AllocationAmount64;
    var frames = new List<string>();
    for (TraceCallStack? frame = tick.CallStack(); frame is not null && frames.Count < 6; frame = frame.Caller)
    {
        string name = frame.CodeAddress.FullMethodName ?? "?";
        frames.Add(name.Length > 110 ? name[..110] : name);
    }

    string site = tick.TypeName + "\n      " + string.Join("\n      ", frames);
    bySite[site] = bySite.GetValueOrDefault(site) + tick.AllocationAmount64;
}

foreach (var (site, bytes) in bySite.OrderByDescending(p => p.Value).Take(rows))
{
    Console.WriteLine($"{bytes * 100.0 / total,5:0.0}% {site}");
}

return 0;
