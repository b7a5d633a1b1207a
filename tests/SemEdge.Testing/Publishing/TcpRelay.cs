using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace SemEdge.Tests.Publishing;

/// <summary>
/// A TCP relay between the publisher and the broker that can cut every connection abruptly (RST), which is
/// what the broker sees when the board loses power or the cable is pulled.
/// </summary>
internal sealed class TcpRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _upstreamPort;
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public TcpRelay(int upstreamPort)
    {
        _upstreamPort = upstreamPort;
        _listener.Start();
        _accepting = AcceptAsync(_stop.Token);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Resets every relayed connection; new connections are still accepted.</summary>
    public void Sever()
    {
        while (_sockets.TryTake(out var socket))
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Sever();
        try
        {
            await _accepting;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, cancellationToken);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The relay was severed or the peer went away.
        }
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptSocketAsync(cancellationToken);
                var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await upstream.ConnectAsync(IPAddress.Loopback, _upstreamPort, cancellationToken);
                _sockets.Add(client);
                _sockets.Add(upstream);
                _ = PumpAsync(client, upstream, cancellationToken);
                _ = PumpAsync(upstream, client, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Listener stopped.
        }
    }
}
