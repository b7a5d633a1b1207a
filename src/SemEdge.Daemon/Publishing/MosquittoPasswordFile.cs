using System.Security.Cryptography;

namespace SemEdge.Publishing;

/// <summary>
/// The accounts of the embedded broker, in the file format mosquitto's own <c>mosquitto_passwd</c> writes, so a
/// technician manages them with the usual tool: one <c>user:HASH</c> per line, where HASH is
/// <c>$7$ITERATIONS$SALT$HASH</c> (PBKDF2-HMAC-SHA512, 64-byte key; mosquitto 2's default) or <c>$6$SALT$HASH</c>
/// (one SHA-512 over password then salt; mosquitto 1.6 and older). Salt and hash are base64. Plain-text
/// passwords are refused: the file is meant to be safe to read.
/// </summary>
public sealed class MosquittoPasswordFile
{
    private readonly Dictionary<string, PasswordHash> _accounts;

    private MosquittoPasswordFile(string path, Dictionary<string, PasswordHash> accounts)
    {
        Path = path;
        _accounts = accounts;
    }

    public string Path { get; }

    public IReadOnlyCollection<string> Users => _accounts.Keys;

    /// <summary>Reads and checks the whole file; a line that cannot be used stops the load with its number.</summary>
    public static MosquittoPasswordFile Load(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"Mqtt:Embedded:PasswordFile '{path}' cannot be read: {ex.Message}", ex);
        }

        var accounts = new Dictionary<string, PasswordHash>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.LastIndexOf(':');
            if (colon <= 0)
            {
                throw Bad(path, i, "expected user:$7$... as written by mosquitto_passwd");
            }

            var user = line[..colon];
            if (!PasswordHash.TryParse(line[(colon + 1)..], out var hash, out var why))
            {
                throw Bad(path, i, $"user '{user}': {why}");
            }

            if (!accounts.TryAdd(user, hash))
            {
                throw Bad(path, i, $"user '{user}' appears twice");
            }
        }

        if (accounts.Count == 0)
        {
            throw new InvalidDataException($"Mqtt:Embedded:PasswordFile '{path}' holds no account (add one: mosquitto_passwd {path} USER).");
        }

        return new MosquittoPasswordFile(path, accounts);
    }

    /// <summary>True when the user exists and the password matches its hash (compared in constant time).</summary>
    public bool Verify(string? user, ReadOnlySpan<byte> password) =>
        user is not null && _accounts.TryGetValue(user, out var hash) && hash.Matches(password);

    private static InvalidDataException Bad(string path, int index, string why) =>
        new($"Mqtt:Embedded:PasswordFile '{path}' line {index + 1}: {why}.");

    private sealed class PasswordHash
    {
        private const int Pbkdf2KeyBytes = 64;
        private readonly bool _pbkdf2;
        private readonly int _iterations;
        private readonly byte[] _salt;
        private readonly byte[] _hash;

        private PasswordHash(bool pbkdf2, int iterations, byte[] salt, byte[] hash)
        {
            _pbkdf2 = pbkdf2;
            _iterations = iterations;
            _salt = salt;
            _hash = hash;
        }

        public static bool TryParse(string text, out PasswordHash hash, out string why)
        {
            hash = null!;
            var parts = text.Split('$');
            try
            {
                switch (parts)
                {
                    case ["", "7", var iterations, var salt, var digest] when int.TryParse(iterations, out var count) && count > 0:
                        hash = new PasswordHash(true, count, Convert.FromBase64String(salt), Convert.FromBase64String(digest));
                        why = string.Empty;
                        return hash._hash.Length == Pbkdf2KeyBytes || Fail(out why, "the PBKDF2 hash is not 64 bytes");
                    case ["", "6", var salt, var digest]:
                        hash = new PasswordHash(false, 0, Convert.FromBase64String(salt), Convert.FromBase64String(digest));
                        why = string.Empty;
                        return hash._hash.Length == SHA512.HashSizeInBytes || Fail(out why, "the SHA-512 hash is not 64 bytes");
                    default:
                        return Fail(out why, "not a $7$ or $6$ hash (plain-text passwords are refused: run mosquitto_passwd -U on the file)");
                }
            }
            catch (FormatException)
            {
                return Fail(out why, "salt or hash is not base64");
            }
        }

        public bool Matches(ReadOnlySpan<byte> password)
        {
            Span<byte> computed = stackalloc byte[64];
            if (_pbkdf2)
            {
                Rfc2898DeriveBytes.Pbkdf2(password, _salt, computed, _iterations, HashAlgorithmName.SHA512);
            }
            else
            {
                var salted = new byte[password.Length + _salt.Length];
                password.CopyTo(salted);
                _salt.CopyTo(salted.AsSpan(password.Length));
                SHA512.HashData(salted, computed);
                CryptographicOperations.ZeroMemory(salted);
            }

            return CryptographicOperations.FixedTimeEquals(computed, _hash);
        }

        private static bool Fail(out string why, string reason)
        {
            why = reason;
            return false;
        }
    }
}

