using System.Net.Sockets;
using System.Text;

namespace SemEdge.Pipeline;

/// <summary>
/// The sending end of systemd's notify protocol: one datagram per message to the socket named by
/// <c>NOTIFY_SOCKET</c>. A leading <c>@</c> names a Linux abstract socket. Disabled (sends nothing) when the
/// daemon was not started by systemd with <c>Type=notify</c>.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly Lock _sending = new();

    public NotifySocket(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        // sd_notify(3): "@" stands for the leading NUL of an abstract socket address.
        _endPoint = new UnixDomainSocketEndPoint(path[0] == '@' ? "\0" + path[1..] : path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    public bool IsEnabled => _socket is not null;

    /// <summary>Sends one message (e.g. <c>READY=1</c>). Throws <see cref="SocketException"/> when systemd is gone.</summary>
    public void Send(string message)
    {
        if (_socket is null || _endPoint is null)
        {
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(message);
        lock (_sending)
        {
            _socket.SendTo(bytes, SocketFlags.None, _endPoint);
        }
    }

    public void Dispose() => _socket?.Dispose();
}
