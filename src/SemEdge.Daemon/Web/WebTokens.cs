using System.Security.Cryptography;
using System.Text;

namespace SemEdge.Web;

/// <summary>What a caller may do: read the page, or read and label.</summary>
public enum WebRole
{
    Read,
    Label,
}

/// <summary>Who is calling: the token's name (written into labels.csv) and its role.</summary>
public sealed record WebCaller(string Name, WebRole Role);

/// <summary>
/// The token file: one <c>NAME ROLE TOKEN</c> per line (<c>#</c> starts a comment), ROLE <c>read</c> or <c>label</c>,
/// tokens at least 16 characters. The file must be readable by its owner only (mode 0600 or 0400): a token that
/// anyone on the board can read guards nothing.
/// </summary>
public sealed class WebTokens
{
    public const int MinTokenLength = 16;

    private readonly List<(byte[] Hash, WebCaller Caller)> _entries;

    private WebTokens(List<(byte[] Hash, WebCaller Caller)> entries) => _entries = entries;

    public int Count => _entries.Count;

    /// <exception cref="InvalidDataException">The file is readable by others, or a line is malformed.</exception>
    public static WebTokens Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path} does not exist.");
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                throw new InvalidDataException($"{path} is readable or writable by group or others (mode {Convert.ToString((int)mode, 8)}); chmod 600 it.");
            }
        }

        var entries = new List<(byte[], WebCaller)>();
        var number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3)
            {
                throw new InvalidDataException($"{path}:{number}: expected NAME ROLE TOKEN.");
            }

            var role = parts[1].ToLowerInvariant() switch
            {
                "read" => WebRole.Read,
                "label" => WebRole.Label,
                _ => throw new InvalidDataException($"{path}:{number}: role '{parts[1]}' is neither read nor label."),
            };
            if (parts[2].Length < MinTokenLength)
            {
                throw new InvalidDataException($"{path}:{number}: the token is shorter than {MinTokenLength} characters.");
            }

            entries.Add((Hash(parts[2]), new WebCaller(parts[0], role)));
        }

        if (entries.Count == 0)
        {
            throw new InvalidDataException($"{path} holds no token.");
        }

        return new WebTokens(entries);
    }

    /// <summary>The caller a token belongs to, or null; compares hashes in constant time.</summary>
    public WebCaller? Find(string? token)
    {
        if (string.IsNullOrEmpty(token))
        {
            return null;
        }

        var hash = Hash(token);
        WebCaller? found = null;
        foreach (var (known, caller) in _entries)
        {
            if (CryptographicOperations.FixedTimeEquals(known, hash))
            {
                found ??= caller;
            }
        }

        return found;
    }

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
