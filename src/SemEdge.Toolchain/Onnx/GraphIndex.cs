namespace SemEdge.Toolchain.Onnx;

/// <summary>Who produces and who consumes each tensor of a graph, and which names are constants.</summary>
internal sealed class GraphIndex
{
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);

    public GraphIndex(GraphProto graph)
    {
        Graph = graph;
        Initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        GraphOutputs = graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        GraphInputs = graph.Input.Select(i => i.Name).Where(n => !Initializers.ContainsKey(n)).ToHashSet(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                _producers[output] = node;
            }

            foreach (var input in node.Input.Where(i => i.Length > 0))
            {
                if (!_consumers.TryGetValue(input, out var list))
                {
                    _consumers[input] = list = [];
                }

                if (!list.Contains(node))
                {
                    list.Add(node);
                }
            }
        }
    }

    public GraphProto Graph { get; }

    public IReadOnlyDictionary<string, TensorProto> Initializers { get; }

    public IReadOnlySet<string> GraphOutputs { get; }

    /// <summary>Graph inputs that are fed at run time (not initializers listed as inputs, as old exporters did).</summary>
    public IReadOnlySet<string> GraphInputs { get; }

    public NodeProto? Producer(string tensor) => _producers.GetValueOrDefault(tensor);

    public IReadOnlyList<NodeProto> Consumers(string tensor) =>
        _consumers.TryGetValue(tensor, out var list) ? list : [];

    public bool IsConstant(string tensor) =>
        Initializers.ContainsKey(tensor) || Producer(tensor)?.OpType == "Constant";

    /// <summary>Every name used for a tensor or node, so generated names can be checked for collisions.</summary>
    public HashSet<string> AllNames()
    {
        var names = new HashSet<string>(Initializers.Keys, StringComparer.Ordinal);
        names.UnionWith(_producers.Keys);
        names.UnionWith(_consumers.Keys);
        names.UnionWith(Graph.Input.Select(i => i.Name));
        names.UnionWith(Graph.Node.Select(n => n.Name).Where(n => n.Length > 0));
        return names;
    }
}
