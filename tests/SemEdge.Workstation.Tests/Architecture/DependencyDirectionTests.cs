using System.Text.RegularExpressions;
using System.Xml.Linq;
using SemEdge.Tests.Platform;

namespace SemEdge.Tests.Architecture;

/// <summary>
/// The dependency rule of docs/architecture.md, read from src/: every source folder has a level, and a folder
/// uses types only from folders on lower levels, so no two folders can know each other. The compiler guards
/// the same direction between projects through their references; this test guards it between the folders
/// inside a project, where the compiler lets anything through.
/// Run alone: dotnet test tests/SemEdge.Workstation.Tests --filter FullyQualifiedName~DependencyDirection
/// </summary>
public partial class DependencyDirectionTests
{
    /// <summary>
    /// The layers, lowest first. A folder is src/PROJECT/FOLDER for the runtime and the daemon, the project
    /// for the single-purpose projects. The data flows ingest -> imaging -> inference -> decision ->
    /// actuation/publishing; the code leans on the verdict's vocabulary (Decision) from every stage.
    /// </summary>
    private static readonly Dictionary<string, int> Levels = new()
    {
        ["Runtime/Decision"] = 0,
        ["Runtime/Imaging"] = 0,
        ["Runtime/Signing"] = 0,
        ["Daemon/Telemetry"] = 0,
        ["Runtime/Inference"] = 1,
        ["Daemon/Ingest"] = 2,
        ["Synthesis"] = 2,
        ["Toolchain"] = 2,
        ["Daemon/Actuation"] = 3,
        ["Daemon/Publishing"] = 3,
        ["Daemon/Pipeline"] = 4,
        ["Daemon/Diagnostics"] = 5,
        ["Daemon/Web"] = 5,
        ["Daemon/Hosting"] = 6,
        ["Daemon/Cli"] = 7,
        ["Workstation"] = 8,
    };

    private static readonly Lazy<SourceGraph> Graph = new(() => SourceGraph.Read(Path.Combine(RepoPaths.Root, "src")));

    [Fact]
    public void Every_source_folder_has_a_level()
    {
        var unplaced = Graph.Value.Folders.Where(f => !Levels.ContainsKey(f)).ToList();

        Assert.True(unplaced.Count == 0, $"give these folders a level in {nameof(DependencyDirectionTests)} and docs/architecture.md: {string.Join(", ", unplaced)}");
    }

    [Fact]
    public void The_reader_sees_the_references_the_rule_is_about()
    {
        // Known uses, one per kind of reference (a using directive, a parent namespace, a qualified name):
        // were the reader blind, the rule below would pass on nothing.
        var edges = Graph.Value.Edges;

        Assert.Contains(("Runtime/Inference", "Runtime/Imaging"), edges.Keys);
        Assert.Contains(("Daemon/Pipeline", "Daemon/Publishing"), edges.Keys);
        Assert.Contains(("Daemon/Hosting", "Daemon/Web"), edges.Keys);
        Assert.Contains(("Workstation", "Toolchain"), edges.Keys);
    }

    [Fact]
    public void No_folder_uses_a_folder_on_its_own_level_or_above()
    {
        var wrong = Graph.Value.Edges
            .Where(e => Levels.TryGetValue(e.Key.From, out var from) && Levels.TryGetValue(e.Key.To, out var to) && to >= from)
            .Select(e => $"{e.Key.From} (level {Levels[e.Key.From]}) uses {e.Key.To} (level {Levels[e.Key.To]}): {string.Join(", ", e.Value.Order().Take(6))}")
            .Order()
            .ToList();

        Assert.True(wrong.Count == 0, "dependencies against the layers:\n" + string.Join("\n", wrong));
    }

    [Fact]
    public void The_daemon_builds_on_the_runtime_alone_and_the_runtime_on_nothing_of_ours()
    {
        Assert.Equal(["SemEdge.Runtime"], ProjectReferences("SemEdge.Daemon"));
        Assert.Empty(ProjectReferences("SemEdge.Runtime"));
        Assert.Equal(["SemEdge.Runtime"], ProjectReferences("SemEdge.Synthesis"));
        Assert.Equal(["SemEdge.Runtime"], ProjectReferences("SemEdge.Toolchain"));

        // Protobuf is the toolchain's alone: the board bundle must not carry it.
        Assert.DoesNotContain("Google.Protobuf", PackageReferences("SemEdge.Runtime"));
        Assert.DoesNotContain("Google.Protobuf", PackageReferences("SemEdge.Daemon"));
        Assert.Contains("Google.Protobuf", PackageReferences("SemEdge.Toolchain"));
    }

    private static XDocument Project(string name) => XDocument.Load(Path.Combine(RepoPaths.Root, "src", name, name + ".csproj"));

    private static List<string> ProjectReferences(string name) =>
        [.. Project(name).Descendants("ProjectReference").Select(r => Path.GetFileNameWithoutExtension((string)r.Attribute("Include")!)).Order()];

    private static List<string> PackageReferences(string name) =>
        [.. Project(name).Descendants("PackageReference").Select(r => (string)r.Attribute("Include")!)];

    /// <summary>Which folder uses which, from the types each file names that another folder declares.</summary>
    private sealed partial class SourceGraph
    {
        public required IReadOnlySet<string> Folders { get; init; }

        /// <summary>(user, used) -> "Type in File" examples.</summary>
        public required IReadOnlyDictionary<(string From, string To), HashSet<string>> Edges { get; init; }

        public static SourceGraph Read(string src)
        {
            var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
                .Where(p => !p.Contains("/obj/") && !p.Contains("/bin/"))
                .Select(p => SourceFile.Read(src, p))
                .Where(f => f is not null)
                .Select(f => f!)
                .ToList();
            var declared = files
                .SelectMany(f => f.Declares.Select(t => (Type: t, f.Namespace, f.Folder)))
                .ToLookup(d => d.Type);
            var edges = new Dictionary<(string, string), HashSet<string>>();
            void Add(string from, string to, string example)
            {
                if (!edges.TryGetValue((from, to), out var examples))
                {
                    edges[(from, to)] = examples = [];
                }

                examples.Add(example);
            }

            // A using directive is a use too (extension methods such as AddWebPage name no type), except of a
            // namespace the file's own folder shares (SemEdge.Cli, which the daemon and the workstation both hold).
            var folderOfNamespace = files.ToLookup(f => f.Namespace, f => f.Folder);
            foreach (var file in files)
            {
                foreach (var ns in file.Usings.Where(u => !folderOfNamespace[u].Contains(file.Folder)))
                {
                    foreach (var folder in folderOfNamespace[ns].Distinct())
                    {
                        Add(file.Folder, folder, $"using {ns} in {file.Name}");
                    }
                }

                foreach (var (type, qualifier) in file.Mentions)
                {
                    foreach (var declaration in declared[type])
                    {
                        if (declaration.Folder != file.Folder && file.Sees(declaration.Namespace, qualifier))
                        {
                            Add(file.Folder, declaration.Folder, $"{type} in {file.Name}");
                        }
                    }
                }
            }

            return new SourceGraph { Folders = files.Select(f => f.Folder).ToHashSet(), Edges = edges };
        }
    }

    private sealed partial record SourceFile(string Folder, string Name, string Namespace, IReadOnlySet<string> Usings,
        IReadOnlySet<string> Declares, IReadOnlySet<(string Type, string Qualifier)> Mentions)
    {
        public static SourceFile? Read(string src, string path)
        {
            var parts = Path.GetRelativePath(src, path).Split('/');
            if (!parts[0].StartsWith("SemEdge.", StringComparison.Ordinal))
            {
                return null;
            }

            var project = parts[0]["SemEdge.".Length..];
            // The runtime and the daemon are layered inside by folder; a daemon file at the project root is the
            // entry point, part of the command line.
            var folder = project is "Runtime" or "Daemon"
                ? $"{project}/{(parts.Length > 2 ? parts[1] : "Cli")}"
                : project;
            var code = Comments().Replace(File.ReadAllText(path), " ");
            var ns = NamespaceLine().Match(code) is { Success: true } m ? m.Groups[1].Value : "";
            var usings = UsingLine().Matches(code).Select(u => u.Groups[1].Value).ToHashSet();
            var declares = Declaration().Matches(code).Select(d => d.Groups[1].Value).ToHashSet();
            var body = UsingLine().Replace(code, " ");
            var mentions = TypeName().Matches(body).Select(t => (t.Groups[2].Value, t.Groups[1].Value.TrimEnd('.'))).ToHashSet();
            return new SourceFile(folder, Path.GetFileName(path), ns, usings, declares, mentions);
        }

        /// <summary>Whether a name in this file reaches a type of <paramref name="ns"/> (C#'s lookup, roughly).</summary>
        public bool Sees(string ns, string qualifier)
        {
            if (qualifier.Length > 0)
            {
                return ns == qualifier || ns.EndsWith("." + qualifier, StringComparison.Ordinal);
            }

            return ns == Namespace || Namespace.StartsWith(ns + ".", StringComparison.Ordinal) || Usings.Contains(ns);
        }

        [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
        private static partial Regex Comments();

        [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
        private static partial Regex NamespaceLine();

        [GeneratedRegex(@"^using (?:static )?([\w.]+);", RegexOptions.Multiline)]
        private static partial Regex UsingLine();

        [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+(?:struct\s+|class\s+)?([A-Z]\w*)")]
        private static partial Regex Declaration();

        [GeneratedRegex(@"(?<![\w.])((?:[A-Za-z_]\w*\.)*)([A-Z]\w*)\b")]
        private static partial Regex TypeName();
    }
}
