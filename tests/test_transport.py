"""The websocket-client reach in helpers/transport.py: these fail if an upgrade moves what it relies on."""

from __future__ import annotations

import inspect

import websocket

from helpers.client import RealtimeClient
from helpers.transport import BufferedSocket, ReceiveLoop, buffer_reads, proxy_options
from tests.wsserver import ws_server


async def burst(conn):
    for n in range(500):
        await conn.send(f'{{"type":"tick","n":{n}}}')
    await conn.send('{"type":"response.done"}')
    await conn.wait_closed()


def test_run_forever_still_takes_the_dispatcher_and_proxy_options_used():
    parameters = inspect.signature(websocket.WebSocketApp.run_forever).parameters
    for name in ("dispatcher", "skip_utf8_validation", "http_proxy_host", "http_proxy_port", "proxy_type",
                 "http_no_proxy"):
        assert name in parameters, f"websocket-client's run_forever lost {name!r}"
    assert set(dir(ReceiveLoop)) >= {"read", "timeout", "buffwrite", "signal", "abort", "reconnect"}


def test_buffer_reads_serves_frames_from_few_large_reads():
    with ws_server(burst) as url:
        ws = websocket.create_connection(url)
        try:
            assert hasattr(ws, "sock") and ws.sock is not None, "WebSocket.sock is gone: buffer_reads cannot wrap it"
            raw = ws.sock
            reads = []
            recv = raw.recv

            class Counting:  # the plain socket's recv counted, through a wrapper the buffer reads from
                def __getattr__(self, name):
                    return getattr(raw, name)

                def recv(self, size):
                    reads.append(size)
                    return recv(size)

            ws.sock = Counting()
            buffer_reads(ws)
            assert isinstance(ws.sock, BufferedSocket)
            received = [ws.recv() for _ in range(501)]
        finally:
            ws.close()
    assert received[-1] == '{"type":"response.done"}'
    assert reads, "websocket-client no longer reads through WebSocket.sock.recv"
    assert set(reads) == {BufferedSocket.READ_SIZE}
    # unbuffered, websocket-client asks at least twice per frame (header, then payload)
    assert len(reads) < 501, f"{len(reads)} socket reads for 501 frames: the buffer is bypassed"


def test_the_client_reads_through_the_buffer():
    with ws_server(burst) as url, RealtimeClient(url, provider="test") as client:
        assert isinstance(client._socket.sock, BufferedSocket)
        assert client.wait_for("response.done", timeout=10)
        assert len(client.history) == 501


def test_proxy_options_only_for_loopback():
    assert proxy_options("example.com") == {}
    assert proxy_options("10.0.0.1") == {}
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        assert proxy_options(host)["http_no_proxy"] == [host]
