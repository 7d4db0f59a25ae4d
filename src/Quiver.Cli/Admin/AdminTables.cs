using Spectre.Console;
using Spectre.Console.Rendering;

namespace Quiver.Cli.Admin;

/// <summary>How the admin commands build tables: rounded borders, and cells as plain text so names from the server are never read as markup.</summary>
public static class AdminTables
{
    /// <summary>An empty table with these column headers.</summary>
    public static Table Create(params string[] columns)
    {
        var table = new Table { Border = TableBorder.Rounded };
        foreach (string column in columns)
        {
            table.AddColumn(new TableColumn(new Text(column)));
        }

        return table;
    }

    /// <summary>Adds a row of plain-text cells.</summary>
    public static void Add(Table table, params string[] cells) =>
        table.AddRow(cells.Select(cell => (IRenderable)new Text(cell)).ToArray());
}
