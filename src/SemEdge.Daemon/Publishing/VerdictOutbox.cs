using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SemEdge.Decision;
using SemEdge.Ingest;

namespace SemEdge.Publishing;

/// <summary>
/// Durable, ordered store of verdicts between the pipeline and the broker; one per host (a lock file keeps a
/// second process out).
/// <para>Seam for the pipeline: <see cref="AppendAsync(Verdict, CancellationToken)"/> assigns the next <see cref="Verdict.Seq"/> (monotonic
/// across restarts) and returns only after the entry is fsync'd, so the image may be archived afterwards.
/// <see cref="TryFindByImage"/> finds entries not yet compacted, so crash recovery of <c>processing/</c> does not
/// decide an image twice. When the outbox is full <see cref="AppendAsync(Verdict, CancellationToken)"/> throws
/// <see cref="OutboxFullException"/>; <see cref="WaitUntilAcceptingAsync"/> completes once there is room.</para>
/// <para>Seam for the publisher: <see cref="TryPeekPending"/> / <see cref="WaitForPendingAsync"/> give the oldest
/// unsent entry; <see cref="MarkSentAsync"/> records that every entry up to a seq was acknowledged.</para>
/// <para>File format of <c>outbox.log</c>: ASCII lines, each <c>CCCCCCCC T BODY\n</c> where CCCCCCCC is the CRC-32
/// (lower-case hex) of the bytes <c>T BODY</c>. Record types T:
/// <c>H n</c> header, first line of every file: every seq up to n is sent and compacted away;
/// <c>V {json}</c> a verdict (camelCase JSON of <see cref="Verdict"/>, seq included, non-ASCII escaped);
/// <c>A n</c> acknowledgement: every verdict with seq up to n was delivered (written without an fsync of its own:
/// the next verdict's fsync carries it; a power cut before that sends those verdicts again, marked replay);
/// <c>P n</c> the reject/review line was pulsed for seq n (written without fsync: a kill -9 keeps it, a power cut
/// may lose it, and recovery then reports the pulse as missed, which errs on the safe side).
/// Lines are only appended; verdict lines are fsync'd before <see cref="AppendAsync(Verdict, CancellationToken)"/>
/// returns, several in one write and fsync when they are appended together (group commit). A crash can leave a torn last line (no newline, or a CRC
/// that does not match): it is logged and cut off on open. Compaction writes the header and the unsent entries
/// to <c>outbox.log.compact</c>, fsyncs it, renames it over <c>outbox.log</c> and fsyncs the directory, so the
/// log is always either the old or the new file.</para>
/// </summary>
public sealed class VerdictOutbox : IDisposable
{
    public const string LogFileName = "outbox.log";
    public const string LockFileName = "outbox.lock";
    public const string CompactFileName = "outbox.log.compact";

    private const byte Header = (byte)'H';
    private const byte Entry = (byte)'V';
    private const byte Ack = (byte)'A';
    private const byte Pulsed = (byte)'P';

    private readonly OutboxOptions _options;
    private readonly ILogger<VerdictOutbox> _logger;
    private readonly string _directory;
    private readonly string _logPath;
    private readonly string _compactPath;
    private readonly FileStream _lockFile;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly Lock _state = new();
    private readonly Queue<Verdict> _pending = new();
    private readonly Dictionary<string, Verdict> _byImage = new(StringComparer.Ordinal);
    private readonly HashSet<long> _pulsed = [];
    private FileStream _log;
    private long _size;
    private long _lastSeq;
    private long _lastSentSeq;
    private int _sentInFile;
    private TaskCompletionSource _pendingSignal = NewSignal();
    private TaskCompletionSource _roomSignal = NewSignal();
    private bool _disposed;

    public VerdictOutbox(IOptions<OutboxOptions> options, ILogger<VerdictOutbox> logger)
    {
        _options = options.Value;
        _logger = logger;
        _directory = Path.GetFullPath(_options.Path);
        _logPath = Path.Combine(_directory, LogFileName);
        _compactPath = Path.Combine(_directory, CompactFileName);

        Directory.CreateDirectory(_directory);
        var lockPath = Path.Combine(_directory, LockFileName);
        try
        {
            // FileShare.None takes an exclusive advisory lock: a second daemon on the same outbox fails here.
            _lockFile = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"The outbox {_directory} is in use by another process (lock {lockPath}). Only one SemEdge may run per outbox.", ex);
        }

        try
        {
            _log = OpenLog();
        }
        catch
        {
            _lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Seq of the newest verdict ever appended (0 when none).</summary>
    public long LastSeq
    {
        get
        {
            lock (_state)
            {
                return _lastSeq;
            }
        }
    }

    /// <summary>Verdicts appended but not yet acknowledged by the broker.</summary>
    public int PendingCount
    {
        get
        {
            lock (_state)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Current size of the log file in bytes.</summary>
    public long SizeBytes
    {
        get
        {
            lock (_state)
            {
                return _size;
            }
        }
    }

    /// <summary>False while the outbox is at its bound; the pipeline should not claim images then.</summary>
    public bool IsAccepting
    {
        get
        {
            lock (_state)
            {
                return HasRoom();
            }
        }
    }

    /// <summary>Makes the verdict durable with the next seq; returns it with <see cref="Verdict.Seq"/> set.</summary>
    /// <exception cref="OutboxFullException">The outbox is at its configured bound; nothing was written.</exception>
    public async Task<Verdict> AppendAsync(Verdict verdict, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        return (await AppendAsync([verdict], cancellationToken).ConfigureAwait(false))[0];
    }

    /// <summary>
    /// Group commit: makes the verdicts durable with consecutive seqs, in the order given, with one write and one
    /// fsync for all of them (a burst then pays one fsync per batch, not per image); returns them with
    /// <see cref="Verdict.Seq"/> set. All or nothing: none is published before all are durable.
    /// </summary>
    /// <exception cref="OutboxFullException">The outbox cannot take all of them; nothing was written.</exception>
    public async Task<IReadOnlyList<Verdict>> AppendAsync(IReadOnlyList<Verdict> verdicts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(verdicts);
        ArgumentOutOfRangeException.ThrowIfZero(verdicts.Count);
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            long firstSeq;
            lock (_state)
            {
                firstSeq = _lastSeq + 1;
            }

            var stored = new Verdict[verdicts.Count];
            var lines = new ArrayBufferWriter<byte>();
            for (var i = 0; i < stored.Length; i++)
            {
                stored[i] = verdicts[i] with { Seq = firstSeq + i, Replay = false };
                lines.Write(Encode(Entry, JsonSerializer.SerializeToUtf8Bytes(stored[i], OutboxJsonContext.Default.Verdict)));
            }

            EnsureRoom(lines.WrittenCount, stored.Length);

            // From here on the write is not abandoned half-way: a cancelled caller must not leave a torn line.
            WriteLine(lines.WrittenSpan, fsync: true);
            lock (_state)
            {
                _lastSeq = stored[^1].Seq;
                foreach (var verdict in stored)
                {
                    _pending.Enqueue(verdict);
                    _byImage[verdict.Image] = verdict;
                }

                Signal(ref _pendingSignal);
            }

            return stored;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Finds the newest entry for an image among the entries still in the log (sent or not).</summary>
    public bool TryFindByImage(string imageName, [MaybeNullWhen(false)] out Verdict verdict)
    {
        lock (_state)
        {
            return _byImage.TryGetValue(imageName, out verdict);
        }
    }

    /// <summary>Records that the line was pulsed for <paramref name="seq"/> (see the <c>P</c> record).</summary>
    public async Task RecordPulsedAsync(long seq, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Without an fsync of its own, like an ack: a lost P record can only raise an alarm for a pulse that fired.
            WriteLine(Encode(Pulsed, SeqBody(seq)), fsync: false);
            lock (_state)
            {
                _pulsed.Add(seq);
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Whether a pulse was recorded for <paramref name="seq"/> (among the entries still in the log).</summary>
    public bool WasPulsed(long seq)
    {
        lock (_state)
        {
            return _pulsed.Contains(seq);
        }
    }

    /// <summary>The oldest verdict not yet acknowledged, if any.</summary>
    public bool TryPeekPending([MaybeNullWhen(false)] out Verdict verdict)
    {
        lock (_state)
        {
            return _pending.TryPeek(out verdict);
        }
    }

    /// <summary>Copy of the unsent verdicts, oldest first (diagnostics and tests).</summary>
    public IReadOnlyList<Verdict> PendingSnapshot()
    {
        lock (_state)
        {
            return [.. _pending];
        }
    }

    /// <summary>Completes when at least one verdict waits to be sent.</summary>
    public async Task WaitForPendingAsync(CancellationToken cancellationToken)
    {
        Task signal;
        lock (_state)
        {
            if (_pending.Count > 0)
            {
                return;
            }

            signal = _pendingSignal.Task;
        }

        await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Completes when the outbox accepts verdicts again (immediately when it does now).</summary>
    public async Task WaitUntilAcceptingAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task signal;
            lock (_state)
            {
                if (HasRoom())
                {
                    return;
                }

                signal = _roomSignal.Task;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Records that every verdict with seq up to <paramref name="seq"/> was delivered (durable with the next fsync).</summary>
    public async Task MarkSentAsync(long seq, CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            lock (_state)
            {
                if (seq <= _lastSentSeq)
                {
                    return;
                }

                if (seq > _lastSeq)
                {
                    throw new ArgumentOutOfRangeException(nameof(seq), seq, $"No verdict with seq {seq} was appended (last is {_lastSeq}).");
                }
            }

            // Without an fsync of its own: the next append's fsync (or compaction's) makes it durable with the file.
            // A kill -9 keeps it (it is in the kernel); a power cut before that fsync resends those verdicts marked
            // replay: duplicates of known seqs, never a loss. One fsync per PUBACK halved a burst's throughput.
            WriteLine(Encode(Ack, SeqBody(seq)), fsync: false);
            bool compact;
            lock (_state)
            {
                _lastSentSeq = seq;
                while (_pending.TryPeek(out var head) && head.Seq <= seq)
                {
                    _pending.Dequeue();
                    _sentInFile++;
                }

                compact = _sentInFile >= _options.CompactAfterSent || _size >= _options.MaxBytes;
            }

            if (compact)
            {
                Compact();
            }

            lock (_state)
            {
                if (HasRoom())
                {
                    Signal(ref _roomSignal);
                }
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Rewrites the log with only the unsent entries (keeps their order and seq).</summary>
    public async Task CompactAsync(CancellationToken cancellationToken)
    {
        await _writeGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Compact();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    public void Dispose()
    {
        _writeGate.Wait();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                // A clean stop makes the acks and pulse records written without an fsync durable too.
                _log.Flush(flushToDisk: true);
            }
            catch (IOException ex)
            {
                _logger.LogWarning("Could not fsync {LogPath} on close: {Reason}; at worst some verdicts are sent again", _logPath, ex.Message);
            }

            _log.Dispose();
            _lockFile.Dispose();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void Signal(ref TaskCompletionSource signal)
    {
        var fired = signal;
        signal = NewSignal();
        fired.TrySetResult();
    }

    private static byte[] Encode(byte type, ReadOnlySpan<byte> body)
    {
        // "CCCCCCCC T BODY\n": the CRC covers "T BODY".
        var line = new byte[8 + 1 + 2 + body.Length + 1];
        var record = line.AsSpan(9, 2 + body.Length);
        record[0] = type;
        record[1] = (byte)' ';
        body.CopyTo(record[2..]);
        if (!Utf8Formatter.TryFormat(Crc32.HashToUInt32(record), line.AsSpan(0, 8), out _, new System.Buffers.StandardFormat('x', 8)))
        {
            throw new InvalidOperationException("CRC formatting failed.");
        }

        line[8] = (byte)' ';
        line[^1] = (byte)'\n';
        return line;
    }

    private static bool TryDecode(ReadOnlySpan<byte> line, out byte type, out ReadOnlySpan<byte> body)
    {
        type = 0;
        body = default;
        if (line.Length < 11 || line[8] != (byte)' ' || line[10] != (byte)' ')
        {
            return false;
        }

        if (!Utf8Parser.TryParse(line[..8], out uint crc, out var consumed, 'x') || consumed != 8)
        {
            return false;
        }

        var record = line[9..];
        if (Crc32.HashToUInt32(record) != crc)
        {
            return false;
        }

        type = record[0];
        body = record[2..];
        return true;
    }

    private static bool TryParseSeq(ReadOnlySpan<byte> body, out long seq) =>
        Utf8Parser.TryParse(body, out seq, out var consumed) && consumed == body.Length && seq >= 0;

    private bool HasRoom() => _pending.Count < _options.MaxEntries && _size < _options.MaxBytes;

    private void EnsureRoom(int lineBytes, int entries = 1)
    {
        bool needsCompaction;
        lock (_state)
        {
            if (_pending.Count + entries > _options.MaxEntries)
            {
                throw new OutboxFullException(
                    $"Outbox {_directory} holds {_pending.Count} unsent verdicts (Outbox:MaxEntries {_options.MaxEntries}); waiting for the broker.");
            }

            needsCompaction = _size + lineBytes > _options.MaxBytes && _sentInFile > 0;
        }

        if (needsCompaction)
        {
            Compact();
        }

        lock (_state)
        {
            if (_size + lineBytes > _options.MaxBytes)
            {
                throw new OutboxFullException(
                    $"Outbox {_directory} is {_size} bytes (Outbox:MaxBytes {_options.MaxBytes}) with {_pending.Count} unsent verdicts; waiting for the broker.");
            }
        }
    }

    /// <summary>The body of a record that carries only a seq (A, P, the header): the number in ASCII.</summary>
    private static byte[] SeqBody(long seq) => Encoding.ASCII.GetBytes(seq.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Appends whole lines (the log is unbuffered, so they reach the kernel at once); fsyncs when asked.</summary>
    private void WriteLine(ReadOnlySpan<byte> line, bool fsync)
    {
        var before = _log.Length;
        try
        {
            _log.Write(line);
            _log.Flush(fsync);
            lock (_state)
            {
                _size = before + line.Length;
            }
        }
        catch
        {
            // A failed write (disk full, I/O error) may have left part of the line: cut it off so the next
            // append does not glue onto it. If even that fails the torn tail is still detected on open.
            try
            {
                _log.SetLength(before);
                _log.Seek(before, SeekOrigin.Begin);
                _log.Flush(flushToDisk: true);
            }
            catch (IOException rollback)
            {
                _logger.LogError(rollback, "Could not cut a partly written line off {LogPath}", _logPath);
            }

            throw;
        }
    }

    private FileStream OpenLog()
    {
        if (File.Exists(_compactPath))
        {
            // A compaction that crashed before its rename: the old log is still complete.
            _logger.LogWarning("Removing {CompactPath} left by an interrupted compaction; {LogPath} is intact", _compactPath, _logPath);
            File.Delete(_compactPath);
        }

        if (!File.Exists(_logPath))
        {
            _logger.LogInformation("Creating verdict outbox {LogPath}", _logPath);
            WriteFreshLog(lastCompactedSeq: 0, []);
        }
        else
        {
            Load();
        }

        var stream = new FileStream(_logPath, FileMode.Open, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _size = stream.Seek(0, SeekOrigin.End);
        return stream;
    }

    private void Load()
    {
        var bytes = File.ReadAllBytes(_logPath);
        var entries = new List<Verdict>();
        long lastSeq = 0;
        long lastSent = 0;
        long validEnd = 0;
        var corrupt = 0;
        var pos = 0;
        while (pos < bytes.Length)
        {
            var newline = Array.IndexOf(bytes, (byte)'\n', pos);
            if (newline < 0)
            {
                break;
            }

            var line = bytes.AsSpan(pos, newline - pos);
            if (TryApply(line, entries, ref lastSeq, ref lastSent))
            {
                if (corrupt > 0)
                {
                    _logger.LogError(
                        "Outbox {LogPath}: skipped {Count} damaged line(s) before offset {Offset}; later entries are kept",
                        _logPath, corrupt, pos);
                    corrupt = 0;
                }

                validEnd = newline + 1;
            }
            else
            {
                corrupt++;
            }

            pos = newline + 1;
        }

        if (validEnd < bytes.Length)
        {
            // Only the tail after the last good line: the one line a crash can tear. fsync'd lines precede it.
            _logger.LogWarning(
                "Outbox {LogPath}: ignoring a torn last line ({Bytes} bytes at offset {Offset}) left by a crash",
                _logPath, bytes.Length - validEnd, validEnd);
            using var truncate = new FileStream(_logPath, FileMode.Open, FileAccess.Write, FileShare.Read);
            truncate.SetLength(validEnd);
            truncate.Flush(flushToDisk: true);
        }

        _lastSeq = lastSeq;
        _lastSentSeq = lastSent;
        foreach (var verdict in entries)
        {
            _byImage[verdict.Image] = verdict;
            if (verdict.Seq > lastSent)
            {
                _pending.Enqueue(verdict);
            }
            else
            {
                _sentInFile++;
            }
        }

        _logger.LogInformation(
            "Opened verdict outbox {LogPath}: last seq {LastSeq}, {Pending} unsent, {Sent} sent awaiting compaction",
            _logPath, _lastSeq, _pending.Count, _sentInFile);
    }

    private bool TryApply(ReadOnlySpan<byte> line, List<Verdict> entries, ref long lastSeq, ref long lastSent)
    {
        if (!TryDecode(line, out var type, out var body))
        {
            return false;
        }

        switch (type)
        {
            case Header when TryParseSeq(body, out var compacted):
                lastSeq = Math.Max(lastSeq, compacted);
                lastSent = Math.Max(lastSent, compacted);
                return true;
            case Ack when TryParseSeq(body, out var acked):
                lastSent = Math.Max(lastSent, acked);
                return true;
            case Pulsed when TryParseSeq(body, out var pulsed):
                _pulsed.Add(pulsed);
                return true;
            case Entry:
                Verdict? verdict;
                try
                {
                    verdict = JsonSerializer.Deserialize(body, OutboxJsonContext.Default.Verdict);
                }
                catch (JsonException)
                {
                    return false;
                }

                if (verdict is null || verdict.Seq <= lastSeq)
                {
                    return false;
                }

                lastSeq = verdict.Seq;
                entries.Add(verdict);
                return true;
            default:
                return false;
        }
    }

    private void Compact()
    {
        List<Verdict> unsent;
        long compactedThrough;
        lock (_state)
        {
            unsent = [.. _pending];
            compactedThrough = _lastSentSeq;
        }

        long before;
        lock (_state)
        {
            before = _size;
        }

        _log.Dispose();
        try
        {
            WriteFreshLog(compactedThrough, unsent);
        }
        finally
        {
            // Whether or not the rename happened, append to whatever outbox.log is now.
            var reopened = new FileStream(_logPath, FileMode.Open, FileAccess.Write, FileShare.Read, bufferSize: 0);
            var size = reopened.Seek(0, SeekOrigin.End);
            lock (_state)
            {
                _log = reopened;
                _size = size;
            }
        }

        lock (_state)
        {
            _sentInFile = 0;
            _byImage.Clear();
            _pulsed.RemoveWhere(seq => seq <= compactedThrough);
            foreach (var verdict in _pending)
            {
                _byImage[verdict.Image] = verdict;
            }
        }

        _logger.LogInformation(
            "Compacted verdict outbox {LogPath}: {Before} -> {After} bytes, {Unsent} unsent kept",
            _logPath, before, SizeBytes, unsent.Count);
    }

    private void WriteFreshLog(long lastCompactedSeq, IReadOnlyList<Verdict> unsent)
    {
        using (var fresh = new FileStream(_compactPath, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fresh.Write(Encode(Header, SeqBody(lastCompactedSeq)));
            foreach (var verdict in unsent)
            {
                fresh.Write(Encode(Entry, JsonSerializer.SerializeToUtf8Bytes(verdict, OutboxJsonContext.Default.Verdict)));
                if (WasPulsed(verdict.Seq))
                {
                    fresh.Write(Encode(Pulsed, SeqBody(verdict.Seq)));
                }
            }

            fresh.Flush(flushToDisk: true);
        }

        File.Move(_compactPath, _logPath, overwrite: true);
        DirectorySync.Flush(_directory);
    }
}
