using System.Text.Json;

namespace SemEdge.Web;

/// <summary>
/// The verdict of each archived image, kept by the page beside (not inside) the archive so the archive browser shows
/// an image with its verdict: one JSON line per verdict, appended to <c>STATE/verdicts/DAY.jsonl</c>. A day is dropped
/// once the archive's retention has removed that day.
/// <para>One file per day, not one per image: creating a file is an inode allocation and, with the rename that made
/// it whole, a writeback on close (ext4's replace-by-rename heuristic). In a burst that took about a fifth of the
/// daemon's CPU (docs/daemon-performance.md); an append is one write. Nothing is fsync'd: the journal is the page's
/// convenience, and a line cut off by a crash is skipped when read.</para>
/// <para>Lookups go through a per-day index of line offsets, built on first use and caught up with what was appended
/// since; only the last few days looked at are held.</para>
/// </summary>
public sealed class VerdictJournal(string stateFolder, ArchivePaths archive)
{
    /// <summary>Day indexes held at once (today's and a few the technician browses): ~100 bytes per verdict each.</summary>
    internal const int IndexedDays = 3;

    private readonly Lock _lock = new();
    private readonly LinkedList<DayIndex> _indexes = new();
    private string? _checkedDay;

    public string Root { get; } = Path.Combine(Path.GetFullPath(stateFolder), "verdicts");

    /// <summary>The journal file of <paramref name="day"/> (<c>yyyy-MM-dd</c>).</summary>
    public string DayFile(string day) => Path.Combine(Root, day + ".jsonl");

    /// <summary>Appends the verdict of an archived image (one caller: the page's feed loop).</summary>
    public void Write(PageVerdict verdict)
    {
        if (verdict.Path is not { } relative || DayOf(relative) is not { } day)
        {
            return;
        }

        var line = JsonSerializer.SerializeToUtf8Bytes(verdict, WebJsonContext.Default.PageVerdict);
        var file = DayFile(day);
        var cutOff = false;
        if (_checkedDay != day)
        {
            // Once per day file and start, not per verdict: the folder, and how the file ends.
            Directory.CreateDirectory(Root);
            cutOff = EndsInsideALine(file);
            _checkedDay = day;
        }

        using var stream = new FileStream(file, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        var buffer = new byte[(cutOff ? 1 : 0) + line.Length + 1];
        if (cutOff)
        {
            // The last line was cut off (a crash mid-append): end it, so it stays one bad line, skipped when read.
            buffer[0] = (byte)'\n';
        }

        line.CopyTo(buffer, cutOff ? 1 : 0);
        buffer[^1] = (byte)'\n';
        stream.Write(buffer); // one write(2)
    }

    /// <summary>The verdict of an archived image; <paramref name="relative"/> must already be checked by <see cref="ArchivePaths"/>.</summary>
    public PageVerdict? Find(string relative)
    {
        if (DayOf(relative) is not { } day)
        {
            return null;
        }

        try
        {
            var file = DayFile(day);
            if (File.Exists(file))
            {
                using var stream = OpenForReading(file);
                lock (_lock)
                {
                    var index = IndexOf(day);
                    index.CatchUp(stream);
                    if (index.Offsets.TryGetValue(relative, out var offset) && ReadLine(stream, offset) is { } verdict)
                    {
                        return verdict;
                    }
                }
            }

            // Written by a version that kept one file per verdict (DAY/ACTION/NAME.json).
            var legacy = Path.Combine(Root, relative + ".json");
            return File.Exists(legacy) ? JsonSerializer.Deserialize(File.ReadAllBytes(legacy), WebJsonContext.Default.PageVerdict) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Deletes the days the archive no longer holds.</summary>
    public void Prune()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var entry in new DirectoryInfo(Root).EnumerateFileSystemInfos())
        {
            var day = entry is FileInfo && entry.Extension == ".jsonl" ? Path.GetFileNameWithoutExtension(entry.Name) : entry.Name;
            if (!ArchivePaths.IsDay(day) || Directory.Exists(Path.Combine(archive.Root, day)))
            {
                continue;
            }

            if (entry is DirectoryInfo legacyDay)
            {
                legacyDay.Delete(recursive: true);
            }
            else
            {
                lock (_lock)
                {
                    entry.Delete();
                    if (_indexes.FirstOrDefault(i => i.Day == day) is { } held)
                    {
                        _indexes.Remove(held);
                    }
                }
            }
        }
    }

    private static string? DayOf(string relative) =>
        relative.IndexOf('/') is var slash && slash > 0 && ArchivePaths.IsDay(relative[..slash]) ? relative[..slash] : null;

    /// <summary>Unbuffered: every read here is a large block of its own, and the feed appends meanwhile.</summary>
    private static FileStream OpenForReading(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);

    private static bool EndsInsideALine(string file)
    {
        try
        {
            using var stream = OpenForReading(file);
            if (stream.Length == 0)
            {
                return false;
            }

            stream.Seek(-1, SeekOrigin.End);
            return stream.ReadByte() != '\n';
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static PageVerdict? ReadLine(FileStream stream, long offset)
    {
        stream.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[DayIndex.MaxLine];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        var end = Array.IndexOf(buffer, (byte)'\n', 0, read);
        return end < 0 ? null : JsonSerializer.Deserialize(buffer.AsSpan(0, end), WebJsonContext.Default.PageVerdict);
    }

    /// <summary>The index of <paramref name="day"/>, most recently used first; the least recently used beyond <see cref="IndexedDays"/> is dropped.</summary>
    private DayIndex IndexOf(string day)
    {
        var node = _indexes.First;
        while (node is not null && node.Value.Day != day)
        {
            node = node.Next;
        }

        if (node is null)
        {
            node = new LinkedListNode<DayIndex>(new DayIndex(day));
            if (_indexes.Count == IndexedDays)
            {
                _indexes.RemoveLast();
            }
        }
        else
        {
            _indexes.Remove(node);
        }

        _indexes.AddFirst(node);
        return node.Value;
    }

    /// <summary>Where each image's line starts in one day's file, read up to <see cref="ReadTo"/>.</summary>
    private sealed class DayIndex(string day)
    {
        /// <summary>Far longer than any verdict line (~400 bytes); a longer one is not the journal's and is skipped.</summary>
        public const int MaxLine = 16 * 1024;

        public string Day { get; } = day;

        public Dictionary<string, long> Offsets { get; } = new(StringComparer.Ordinal);

        public long ReadTo { get; private set; }

        /// <summary>Indexes the whole lines appended since the last call (a line still being written waits for the next).</summary>
        public void CatchUp(FileStream stream)
        {
            if (stream.Length < ReadTo)
            {
                // Replaced (pruned and started again): read it from the start.
                Offsets.Clear();
                ReadTo = 0;
            }

            stream.Seek(ReadTo, SeekOrigin.Begin);
            var buffer = new byte[MaxLine];
            var filled = 0;
            var start = ReadTo;
            while (true)
            {
                var read = stream.Read(buffer, filled, buffer.Length - filled);
                if (read == 0)
                {
                    break;
                }

                filled += read;
                var consumed = 0;
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', consumed, filled - consumed)) >= 0)
                {
                    Add(buffer.AsSpan(consumed, newline - consumed), start + consumed);
                    consumed = newline + 1;
                }

                if (consumed == 0 && filled == buffer.Length)
                {
                    // A line longer than any verdict: not the journal's; skip past it.
                    consumed = filled;
                }

                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                start += consumed;
                filled -= consumed;
            }

            ReadTo = start;
        }

        private void Add(ReadOnlySpan<byte> line, long offset)
        {
            try
            {
                if (JsonSerializer.Deserialize(line, WebJsonContext.Default.PageVerdict)?.Path is { } path)
                {
                    Offsets[path] = offset;
                }
            }
            catch (JsonException)
            {
                // A line cut off by a crash, later ended by the next start's first append.
            }
        }
    }
}
