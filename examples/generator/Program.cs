using System.Diagnostics;
using Quiver.Examples.Generator;

var root = args.Length > 0 ? args[0] : Path.Combine("examples", "models");
var clock = Stopwatch.StartNew();
var report = ExampleRepository.Generate(root);
Console.WriteLine($"iris/1 (MLP 4-8-3) training accuracy: {report.MlpAccuracy:P2}");
Console.WriteLine($"iris/2 (logistic regression) training accuracy: {report.LogisticAccuracy:P2}");
Console.WriteLine($"Wrote {Path.GetFullPath(root)} in {clock.ElapsedMilliseconds} ms.");
