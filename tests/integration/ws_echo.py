#!/usr/bin/python3
"""ws_echo.py - a real websocket echo server for proxystack's tests.

Debian's python3-websockets (10.4) serves, so the peer is a conformant
implementation and not one of ours:

    ws_echo.py --port P [--host ADDR]... [--cert F --key F]
               [--subprotocol NAME]

Every text and binary message comes back as it came (same type, same
bytes), of any size (max_size=None).  No compression extension is
offered or accepted (compression=None), so the handshake answer carries
no Sec-WebSocket-Extensions.  The server never pings (ping_interval=None):
keepalive is the client's job, which is what the tests check.  It still
answers the client's pings with pongs, as RFC 6455 requires.

--cert/--key: wss (TLS) instead of plain ws.  --subprotocol NAME: NAME is
the one subprotocol the server speaks; a client that offers it gets it
chosen, a client that offers others gets none chosen (the handshake still
succeeds, without Sec-WebSocket-Protocol, as RFC 6455 4.2.2 says), a
client that offers none gets none.

One line per event on stderr (connections, chosen subprotocol, message
type and size, close code), for the test logs.  Runs until SIGTERM.
"""

import argparse
import asyncio
import signal
import ssl
import sys

import websockets


def log(msg):
    print(msg, file=sys.stderr, flush=True)


async def echo(ws, path=None):
    who = "%s:%s" % ws.remote_address[:2]
    offered = ws.request_headers.get("Sec-WebSocket-Protocol", "-")
    log(f"{who}: open path={ws.path} offered={offered}"
        f" chosen={ws.subprotocol or '-'}")
    count = 0
    try:
        async for msg in ws:
            count += 1
            kind = "text" if isinstance(msg, str) else "binary"
            size = len(msg.encode("utf-8")) if kind == "text" else len(msg)
            log(f"{who}: {kind} {size} bytes")
            await ws.send(msg)
    except websockets.ConnectionClosed:
        pass
    log(f"{who}: closed path={ws.path} after {count} messages,"
        f" code={ws.close_code} reason={ws.close_reason!r}")


async def main(args):
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    servers = []
    for host in args.host or ["127.0.0.1"]:
        servers.append(await websockets.serve(
            echo, host, args.port, ssl=ctx,
            subprotocols=[args.subprotocol] if args.subprotocol else None,
            max_size=None, max_queue=None, compression=None,
            ping_interval=None, ping_timeout=None, close_timeout=5))
    log(f"listening on port {args.port} ({'wss' if ctx else 'ws'})"
        f" subprotocol={args.subprotocol or '-'}")
    await stop
    for s in servers:
        s.close()
        await s.wait_closed()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", action="append")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--subprotocol")
    a = p.parse_args()
    if bool(a.cert) != bool(a.key):
        p.error("--cert and --key go together")
    asyncio.run(main(a))
