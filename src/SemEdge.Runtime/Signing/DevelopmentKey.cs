namespace SemEdge.Signing;

/// <summary>
/// The engineer's development signing key: made on first use, kept in the user's own config folder
/// (<c>$SEMEDGE_KEY_DIR</c>, else <c>$XDG_CONFIG_HOME/semedge</c>, else <c>~/.config/semedge</c>), never in a
/// checkout (so no commit, clean or tarball of the repository can carry it) and shared by all of that user's
/// checkouts. <c>scripts/semedge run</c> trusts its public half; nothing shipped does.
/// </summary>
public static class DevelopmentKey
{
    public const string FileName = "dev-signing.key";

    public static string Folder
    {
        get
        {
            var explicitFolder = Environment.GetEnvironmentVariable("SEMEDGE_KEY_DIR");
            if (!string.IsNullOrEmpty(explicitFolder))
            {
                return Path.GetFullPath(explicitFolder);
            }

            var config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            if (string.IsNullOrEmpty(config))
            {
                config = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            }

            return Path.Combine(config, "semedge");
        }
    }

    public static string PrivatePath => Path.Combine(Folder, FileName);

    /// <summary>The development key, made now (and said so on <paramref name="log"/>) when it does not exist yet.</summary>
    public static PrivateSigningKey LoadOrCreate(TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(log);
        var path = PrivatePath;
        if (!File.Exists(path))
        {
            var folder = Directory.CreateDirectory(Folder);
            if (!OperatingSystem.IsWindows())
            {
                folder.UnixFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
            }

            try
            {
                PrivateSigningKey.Generate(path).Save(path);
                log.WriteLine($"semedge: made the development signing key {path} (public half {PrivateSigningKey.PublicPathOf(path)}); " +
                    "scripts/semedge run trusts it, a board does not");
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process made it first: use theirs.
            }
        }

        return PrivateSigningKey.Load(path);
    }
}
