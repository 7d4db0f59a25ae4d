using System.CommandLine;
using Quiver.Cli;

return await QuiverCommand.Create().Parse(args).InvokeAsync();
