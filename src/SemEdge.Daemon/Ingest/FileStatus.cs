using System.Runtime.InteropServices;

namespace SemEdge.Ingest;

/// <summary>What kind of directory entry a path is, without following a symlink and without opening it.</summary>
public enum EntryKind
{
    Missing,
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    Device,
}

/// <summary>
/// lstat(2) of one entry, through statx(2): .NET reports a FIFO, a socket or a device node as an ordinary
/// empty file and exposes neither the owner nor the ctime, and opening a FIFO to find out blocks. statx's
/// struct has one layout on every architecture (x64 here, arm64 on the board), unlike struct stat.
/// </summary>
public readonly record struct FileStatus(EntryKind Kind, long Length, uint OwnerId, long ModifiedNs, long ChangedNs)
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private const int Enoent = 2;
    private const int Enotdir = 20;

    public static readonly FileStatus Absent = new(EntryKind.Missing, 0, 0, 0, 0);

    public bool IsRegular => Kind == EntryKind.Regular;

    /// <summary>The effective user id of this process: files it owns can be re-stamped and made read-only.</summary>
    public static uint ProcessOwnerId => OperatingSystem.IsLinux() ? FileStatusNative.GetEffectiveUserId() : 0;

    /// <summary>The entry at <paramref name="path"/> itself (a symlink is reported as one).</summary>
    /// <exception cref="IOException">The entry exists but cannot be examined.</exception>
    public static FileStatus Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return Portable(path);
        }

        var buffer = new byte[256];
        if (FileStatusNative.Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Enoent or Enotdir)
            {
                return Absent;
            }

            throw new IOException($"Cannot examine {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        // struct statx: stx_uid at 20, stx_mode (u16) at 28, stx_size at 40, stx_ctime at 96, stx_mtime at 112.
        var span = buffer.AsSpan();
        var mode = BitConverter.ToUInt16(span[28..]);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => EntryKind.Regular,
            0x4000 => EntryKind.Directory,
            0xA000 => EntryKind.Symlink,
            0x1000 => EntryKind.Fifo,
            0xC000 => EntryKind.Socket,
            _ => EntryKind.Device, // character or block device
        };
        return new FileStatus(
            kind,
            BitConverter.ToInt64(span[40..]),
            BitConverter.ToUInt32(span[20..]),
            Nanoseconds(span[112..]),
            Nanoseconds(span[96..]));
    }

    private static long Nanoseconds(ReadOnlySpan<byte> timestamp) =>
        (BitConverter.ToInt64(timestamp) * 1_000_000_000L) + BitConverter.ToUInt32(timestamp[8..]);

    private static FileStatus Portable(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            return new FileStatus(EntryKind.Symlink, 0, 0, 0, 0);
        }

        if (Directory.Exists(path))
        {
            return new FileStatus(EntryKind.Directory, 0, 0, 0, 0);
        }

        return info.Exists
            ? new FileStatus(EntryKind.Regular, info.Length, 0, info.LastWriteTimeUtc.Ticks * 100, info.LastWriteTimeUtc.Ticks * 100)
            : Absent;
    }
}

internal static partial class FileStatusNative
{
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte[] buffer);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();
}
