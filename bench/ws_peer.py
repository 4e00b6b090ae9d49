#!/usr/bin/python3
"""ws_peer.py - the peer client bench/run measures proxystack against:
Debian's python3-websockets doing the same echo round trips and bulk
echo, through the same squid CONNECT proxy, in the same run.

    ws_peer.py [--proxy HOST:PORT] [--ca CA] URL wsecho N
    ws_peer.py [--proxy HOST:PORT] [--ca CA] URL wsbulk BYTES
    ws_peer.py [--proxy HOST:PORT] [--ca CA] URL wsidle N

wsidle, as ps_bench's: one websocket opened and kept, VmRSS read (after a
garbage collection), N more opened at once (CONNECT, TLS and upgrade of
each a task of one event loop), VmRSS read again.

Prints the same lines as bench/ps_bench.
"""
import argparse
import asyncio
import gc
import socket
import ssl
import time
import urllib.parse

import websockets


def tunnel(proxy, host, port):
    """A socket through an HTTP CONNECT proxy to host:port."""
    phost, pport = proxy.rsplit(":", 1)
    sock = socket.create_connection((phost, int(pport)))
    sock.sendall(b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                 % (host.encode(), port, host.encode(), port))
    head = b""
    while b"\r\n\r\n" not in head:
        piece = sock.recv(4096)
        if not piece:
            raise OSError("proxy closed")
        head += piece
    if not head.split(b" ", 2)[1].startswith(b"2"):
        raise OSError("proxy refused: %r" % head[:40])
    return sock


async def tunnel_async(proxy, host, port):
    """tunnel() without blocking the event loop: a non-blocking socket."""
    loop = asyncio.get_running_loop()
    phost, pport = proxy.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, (phost, int(pport)))
    await loop.sock_sendall(sock, b"CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
                            % (host.encode(), port, host.encode(), port))
    head = b""
    while b"\r\n\r\n" not in head:
        # nothing follows the head until the client speaks TLS
        piece = await loop.sock_recv(sock, 4096)
        if not piece:
            raise OSError("proxy closed")
        head += piece
    if not head.split(b" ", 2)[1].startswith(b"2"):
        raise OSError("proxy refused: %r" % head[:40])
    return sock


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def idle(args, u, port, ctx):
    async def one():
        sock = (await tunnel_async(args.proxy, u.hostname, port)
                if args.proxy else None)
        return await websockets.connect(
            args.url, sock=sock, ssl=ctx,
            server_hostname=u.hostname if ctx else None,
            max_size=None, compression=None, ping_interval=None,
            open_timeout=60)

    n = int(args.amount)
    first = await one()
    gc.collect()
    before = rss_kib()
    start = time.monotonic()
    conns = await asyncio.gather(*(one() for _ in range(n)))
    ms = (time.monotonic() - start) * 1000
    gc.collect()
    after = rss_kib()
    print("wsidle %d %d %d %.1f %.1f" % (n, before, after,
                                         (after - before) / n, ms), flush=True)
    for ws in conns + [first]:
        ws.transport.abort()


async def run(args):
    u = urllib.parse.urlparse(args.url)
    port = u.port or (443 if u.scheme == "wss" else 80)
    ctx = None
    if u.scheme == "wss":
        ctx = ssl.create_default_context(cafile=args.ca)
    if args.mode == "wsidle":
        await idle(args, u, port, ctx)
        return
    sock = tunnel(args.proxy, u.hostname, port) if args.proxy else None
    async with websockets.connect(args.url, sock=sock, ssl=ctx,
                                  server_hostname=u.hostname if ctx else None,
                                  max_size=None, compression=None,
                                  ping_interval=None) as ws:
        size = (1 << 20) if args.mode == "wsbulk" else 32
        n = int(args.amount) // size if args.mode == "wsbulk" else int(args.amount)
        msg = b"w" * size
        for _ in range(10):
            await ws.send(msg)
            await ws.recv()
        start = time.monotonic()
        for _ in range(n):
            await ws.send(msg)
            await ws.recv()
        ms = (time.monotonic() - start) * 1000
    if args.mode == "wsbulk":
        print("wsbulk %d %.1f %.1f" % (n * size, ms, n * size / 1e6 / (ms / 1e3)))
    else:
        print("wsecho %d %.1f %.0f" % (n, ms, n / (ms / 1e3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--proxy")
    ap.add_argument("--ca")
    ap.add_argument("url")
    ap.add_argument("mode", choices=["wsecho", "wsbulk", "wsidle"])
    ap.add_argument("amount")
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
