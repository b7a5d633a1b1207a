namespace SemEdge.Publishing;

/// <summary>
/// Topic rights of the embedded broker's accounts, in a subset of mosquitto's <c>acl_file</c> format:
/// <code>
/// # comment
/// user plc-7
/// topic read semedge/cell-7/#
/// topic write semedge/cell-7/ack
/// </code>
/// A <c>user NAME</c> line starts that account's block; <c>topic [read|write|readwrite] FILTER</c> grants it
/// (no access word means readwrite, as in mosquitto). <c>+</c> and <c>#</c> work as in subscriptions. Not
/// supported, and refused with the line number rather than ignored: <c>pattern</c> lines, <c>deny</c>, and
/// <c>topic</c> lines before the first <c>user</c> (mosquitto gives those to anonymous clients, and the embedded
/// broker has none once it has accounts). Everything not granted is refused.
/// </summary>
public sealed class MosquittoAclFile
{
    private readonly Dictionary<string, List<Grant>> _grants;

    private MosquittoAclFile(Dictionary<string, List<Grant>> grants) => _grants = grants;

    [Flags]
    public enum Access
    {
        None = 0,
        Read = 1,
        Write = 2,
        ReadWrite = Read | Write,
    }

    public IReadOnlyCollection<string> Users => _grants.Keys;

    public static MosquittoAclFile Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Mqtt:Embedded:AclFile '{path}' cannot be read: {ex.Message}", ex);
        }

        var grants = new Dictionary<string, List<Grant>>(StringComparer.Ordinal);
        List<Grant>? current = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var words = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
            switch (words)
            {
                case ["user", var user]:
                    if (!grants.TryGetValue(user, out current))
                    {
                        current = [];
                        grants.Add(user, current);
                    }

                    break;
                case ["topic", ..] when current is null:
                    throw Bad(path, i, "a topic line before any user line (the embedded broker has no anonymous clients once it has accounts)");
                case ["topic", var filter]:
                    current!.Add(new Grant(Access.ReadWrite, CheckFilter(path, i, filter)));
                    break;
                case ["topic", var access, var filter]:
                    current!.Add(new Grant(ParseAccess(path, i, access), CheckFilter(path, i, filter.Trim())));
                    break;
                case ["pattern", ..]:
                    throw Bad(path, i, "pattern lines are not supported: write a topic line in each user's block");
                default:
                    throw Bad(path, i, $"'{line}' is not 'user NAME' or 'topic [read|write|readwrite] FILTER'");
            }
        }

        return new MosquittoAclFile(grants);
    }

    /// <summary>True when one of the user's grants with <paramref name="access"/> matches the topic.</summary>
    public bool MayPublish(string user, string topic) =>
        _grants.TryGetValue(user, out var grants) &&
        grants.Any(g => g.Access.HasFlag(Access.Write) && MqttTopics.Matches(g.Filter, topic));

    /// <summary>True when every topic the subscription can deliver is readable under one of the user's grants.</summary>
    public bool MaySubscribe(string user, string filter) =>
        _grants.TryGetValue(user, out var grants) &&
        grants.Any(g => g.Access.HasFlag(Access.Read) && MqttTopics.Covers(g.Filter, filter));

    private static Access ParseAccess(string path, int index, string word) => word switch
    {
        "read" => Access.Read,
        "write" => Access.Write,
        "readwrite" => Access.ReadWrite,
        "deny" => throw Bad(path, index, "deny is not supported: rights are only granted, everything else is refused"),
        _ => throw Bad(path, index, $"'{word}' is not read, write or readwrite"),
    };

    private static string CheckFilter(string path, int index, string filter) =>
        MqttTopics.IsValidFilter(filter) ? filter : throw Bad(path, index, $"'{filter}' is not a valid topic filter");

    private static InvalidDataException Bad(string path, int index, string why) =>
        new($"Mqtt:Embedded:AclFile '{path}' line {index + 1}: {why}.");

    private sealed record Grant(Access Access, string Filter);
}

/// <summary>MQTT topic-filter arithmetic: matching a topic, and one filter covering another.</summary>
internal static class MqttTopics
{
    public static bool IsValidFilter(string filter)
    {
        if (filter.Length == 0)
        {
            return false;
        }

        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if ((level.Contains('#', StringComparison.Ordinal) && (level != "#" || i != levels.Length - 1)) ||
                (level.Contains('+', StringComparison.Ordinal) && level != "+"))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when <paramref name="topic"/> (no wildcards) is matched by <paramref name="filter"/>.</summary>
    public static bool Matches(string filter, string topic) => Covers(filter, topic);

    /// <summary>
    /// True when every topic matched by <paramref name="inner"/> is also matched by <paramref name="outer"/>; with
    /// a plain topic as <paramref name="inner"/> this is ordinary matching.
    /// </summary>
    public static bool Covers(string outer, string inner)
    {
        var o = outer.Split('/');
        var n = inner.Split('/');
        for (var i = 0; i < o.Length; i++)
        {
            if (o[i] == "#")
            {
                // "a/#" also matches "a" itself (MQTT 4.7.1.2).
                return true;
            }

            if (i >= n.Length)
            {
                return false;
            }

            if (n[i] == "#")
            {
                return false;
            }

            if (o[i] == "+")
            {
                continue;
            }

            if (n[i] == "+" || !string.Equals(o[i], n[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return o.Length == n.Length;
    }
}
