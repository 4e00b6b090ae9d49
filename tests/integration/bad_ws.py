#!/usr/bin/python3
"""bad_ws.py - a scripted, misbehaving websocket server for proxystack's tests.

Plain asyncio and hand-built frames (not the websockets library, which
would refuse to misbehave).  It reads the client's upgrade request, then
plays one scenario, named by the request path (ws://HOST:PORT/NAME), or
by --scenario for requests whose path names none:

    bad_ws.py --port P --log FILE [--scenario NAME] [--list]
              [--cert CHAIN --key KEY]   (wss: the same over TLS)

After a bad act the server keeps reading the client's frames (up to 6 s)
and logs them, so a test can tell which close code the client sent.  The
log gets one line per event, "NAME: EVENT ...", appended and flushed at
once (the file is opened for each line, so a test may truncate it
between cases):

    NAME: request GET /NAME protocols=- extensions=-
    NAME: sent <what the scenario did>
    NAME: client text 5 / client binary 5 / client ping 2 / client pong 2
    NAME: client close 1002 'protocol error'   (or: client close none)
    NAME: client end of stream                  (TCP FIN without close)
    NAME: PASS <assertion> / NAME: FAIL <assertion>   (ping-check)

--list prints every scenario with a one-line description.
"""

import argparse
import asyncio
import base64
import hashlib
import os
import signal
import socket
import ssl
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOG_FILE = None

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA


def log(name, msg):
    line = f"{name}: {msg}"
    print(line, file=sys.stderr, flush=True)
    if LOG_FILE:
        with open(LOG_FILE, "a") as f:
            f.write(line + "\n")


def accept_for(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def frame(opcode, payload=b"", fin=True, rsv=0, mask=None, length_form=None,
          length=None):
    """One server frame.  length_form forces 7, 16 or 64 (a non-minimal
    encoding when the payload is short); length overrides the announced
    length (a lie: 2^63)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    form = length_form or (7 if n < 126 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        head = struct.pack("!BB", b0, mbit | n)
    elif form == 16:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        head += mask
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + payload


def close_frame(code=None, reason=b"", raw=None):
    if raw is not None:
        return frame(OP_CLOSE, raw)
    if code is None:
        return frame(OP_CLOSE, b"")
    return frame(OP_CLOSE, struct.pack("!H", code) + reason)


class Conn:
    def __init__(self, name, reader, writer, headers, path):
        self.name = name
        self.reader = reader
        self.writer = writer
        self.headers = headers
        self.path = path
        self.key = headers.get("sec-websocket-key", "")

    def log(self, msg):
        log(self.name, msg)

    def answer_101(self, extra=b"", accept=None):
        acc = accept if accept is not None else accept_for(self.key)
        return (b"HTTP/1.1 101 Switching Protocols\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + acc.encode() + b"\r\n" +
                extra + b"\r\n")

    async def send(self, data, what=None):
        self.writer.write(data)
        await self.writer.drain()
        if what:
            self.log(f"sent {what}")

    async def read_frame(self, timeout):
        """(fin, opcode, payload) of the client's next frame, or None at
        end of stream / timeout."""
        try:
            h = await asyncio.wait_for(self.reader.readexactly(2), timeout)
            fin, op = h[0] >> 7, h[0] & 0x0F
            masked, n = h[1] >> 7, h[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
            mask = await self.reader.readexactly(4) if masked else None
            data = await self.reader.readexactly(n)
        except asyncio.TimeoutError:
            self.log("client silent (timeout)")
            return None
        except (asyncio.IncompleteReadError, ConnectionError):
            self.log("client end of stream")
            return None
        if not masked:
            self.log("FAIL client frame not masked")
        else:
            data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return fin, op, data

    def log_frame(self, fin, op, data):
        if op == OP_CLOSE:
            if len(data) >= 2:
                code = struct.unpack("!H", data[:2])[0]
                self.log(f"client close {code} {data[2:].decode('utf-8', 'replace')!r}")
            else:
                self.log("client close none")
        else:
            kind = {OP_CONT: "continuation", OP_TEXT: "text",
                    OP_BINARY: "binary", OP_PING: "ping",
                    OP_PONG: "pong"}.get(op, f"opcode-{op}")
            self.log(f"client {kind} {len(data)}" + ("" if fin else " fin=0"))

    async def drain(self, timeout=6.0, closed=False):
        """Log what the client sends after our bad act until its end of
        stream (or timeout), frames after its close included (a second
        close would be the client's own protocol error).  closed: the
        client's close came already."""
        while True:
            f = await self.read_frame(2.0 if closed else timeout)
            if f is None:
                return
            if closed:
                self.log("FAIL the client sent a frame after its close:")
            self.log_frame(*f)
            closed = closed or f[1] == OP_CLOSE

    async def echo(self, answer_close=True, on_close=None):
        """Echo whole messages (reassembled), answer pings; on the client's
        close, answer it (or not, or call on_close()).  Returns at the
        client's close/EOF."""
        parts, first_op = [], None
        while True:
            f = await self.read_frame(30.0)
            if f is None:
                return
            fin, op, data = f
            self.log_frame(fin, op, data)
            if op == OP_PING:
                await self.send(frame(OP_PONG, data))
                continue
            if op == OP_PONG:
                continue
            if op == OP_CLOSE:
                if on_close:
                    await on_close()
                    return
                if answer_close:
                    await self.send(frame(OP_CLOSE, data[:2]),
                                    "close answer")
                    return
                self.log("sent nothing: the close goes unanswered")
                await asyncio.sleep(15)
                return
            if op != OP_CONT:
                first_op, parts = op, []
            parts.append(data)
            if fin:
                await self.send(frame(first_op, b"".join(parts)))


# ----------------------------------------------------------------------
# Scenarios: name -> (description, coroutine(conn)).

SCENARIOS = {}


def scenario(name, desc):
    def reg(fn):
        SCENARIOS[name] = (desc, fn)
        return fn
    return reg


def refusal(status, body):
    body = body.encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body


# --- handshake -----------------------------------------------------------

@scenario("wrong-accept", "101 with the Sec-WebSocket-Accept of another key")
async def s_wrong_accept(c):
    other = base64.b64encode(os.urandom(16)).decode()
    await c.send(c.answer_101(accept=accept_for(other)), "101, wrong accept")
    await c.drain(2)


@scenario("status-200", "200 OK with a body instead of 101")
async def s_status_200(c):
    await c.send(refusal("200 OK", "this is not a websocket endpoint\n"),
                 "200 with a body")


@scenario("status-426", "426 Upgrade Required, as a proxy without upgrades")
async def s_status_426(c):
    await c.send(refusal("426 Upgrade Required",
                         "websocket upgrades are not allowed here\n"),
                 "426 with a body")


@scenario("subprotocol", "101 choosing a subprotocol nobody offered")
async def s_subprotocol(c):
    await c.send(c.answer_101(b"Sec-WebSocket-Protocol: chat.unoffered\r\n"),
                 "101 with Sec-WebSocket-Protocol: chat.unoffered")
    await c.drain(2)


@scenario("extension", "101 with an extension nobody offered")
async def s_extension(c):
    await c.send(c.answer_101(
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        "101 with Sec-WebSocket-Extensions: permessage-deflate")
    await c.drain(2)


@scenario("no-upgrade", "101 without the Upgrade header")
async def s_no_upgrade(c):
    await c.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept_for(c.key).encode() +
                 b"\r\n\r\n", "101 without Upgrade")
    await c.drain(2)


# --- frames after a good 101 --------------------------------------------

def bad_frame(name, desc, data_fn):
    """A scenario: a good 101, then the bytes data_fn() in the same write
    (so they arrive with the answer) or right after it."""
    async def run(c):
        await c.send(c.answer_101())
        await c.send(data_fn(), desc)
        await c.drain()
    SCENARIOS[name] = (desc, run)


bad_frame("masked", "a masked text frame",
          lambda: frame(OP_TEXT, "hi", mask=b"\x01\x02\x03\x04"))
bad_frame("text-then-masked",
          "a good text 'before', then a masked frame, in one write",
          lambda: frame(OP_TEXT, "before") +
          frame(OP_TEXT, "hi", mask=b"\x01\x02\x03\x04"))
bad_frame("rsv1", "a text frame with RSV1 set",
          lambda: frame(OP_TEXT, "hi", rsv=4))
bad_frame("rsv3", "a text frame with RSV3 set",
          lambda: frame(OP_TEXT, "hi", rsv=1))
bad_frame("opcode-3", "a frame with reserved opcode 3",
          lambda: frame(0x3, "hi"))
bad_frame("opcode-b", "a frame with reserved control opcode 0xB",
          lambda: frame(0xB, "hi"))
bad_frame("ping-fragmented", "a ping with FIN=0",
          lambda: frame(OP_PING, "p", fin=False))
bad_frame("ping-126", "a ping of 126 bytes",
          lambda: frame(OP_PING, b"x" * 126))
bad_frame("bad-utf8", "a text message with invalid UTF-8",
          lambda: frame(OP_TEXT, b"abc\xc3\x28def"))
bad_frame("bad-utf8-frag",
          "a fragmented text whose second fragment is invalid UTF-8",
          lambda: frame(OP_TEXT, "abc", fin=False) +
          frame(OP_CONT, b"\xff\xfe", fin=True))
bad_frame("close-1005", "a close with code 1005 on the wire",
          lambda: close_frame(1005))
bad_frame("close-999", "a close with code 999",
          lambda: close_frame(999))
bad_frame("close-1004", "a close with code 1004",
          lambda: close_frame(1004))
bad_frame("close-2000", "a close with code 2000",
          lambda: close_frame(2000))
bad_frame("close-1byte", "a close frame with a 1-byte payload",
          lambda: close_frame(raw=b"\x03"))
bad_frame("close-bad-utf8", "a close 1000 whose reason is invalid UTF-8",
          lambda: close_frame(1000, b"\xc0\xaf"))
bad_frame("len-2-63", "a frame announcing 2^63 bytes",
          lambda: frame(OP_BINARY, b"", length_form=64, length=1 << 63))
bad_frame("len-16-nonminimal", "a 5-byte frame with a 16-bit length",
          lambda: frame(OP_TEXT, "hello", length_form=16))
bad_frame("len-64-nonminimal", "a 200-byte frame with a 64-bit length",
          lambda: frame(OP_BINARY, b"y" * 200, length_form=64))
bad_frame("continuation-first", "a continuation frame outside a message",
          lambda: frame(OP_CONT, "orphan"))
bad_frame("text-in-fragment", "a new text frame inside a fragmented one",
          lambda: frame(OP_TEXT, "a", fin=False) + frame(OP_TEXT, "b"))
bad_frame("too-big", "a 2000-byte binary frame (client max 1000)",
          lambda: frame(OP_BINARY, b"z" * 2000))
bad_frame("too-big-1100", "a 1100-byte binary frame (client max 1000)",
          lambda: frame(OP_BINARY, b"z" * 1100))
bad_frame("too-big-frag", "600 + 600 bytes in two fragments (max 1000)",
          lambda: frame(OP_BINARY, b"z" * 600, fin=False) +
          frame(OP_CONT, b"z" * 600))


@scenario("drop", "the TCP connection closes right after the 101")
async def s_drop(c):
    await c.send(c.answer_101(), "101, then TCP close without close frame")


# --- well-formed but unusual: the client must accept these ---------------

def good_then_close(name, desc, data_fn):
    """A good 101, then data_fn()'s frames, then close 1000 'bye' (after
    the client's messages are in, when it sent any)."""
    async def run(c):
        await c.send(c.answer_101())
        await c.send(data_fn(), desc)
        await c.send(close_frame(1000, b"bye"), "close 1000")
        await c.drain()
    SCENARIOS[name] = (desc, run)


good_then_close("utf8-split", "'caf\\xc3' + '\\xa9': UTF-8 split across fragments",
                lambda: frame(OP_TEXT, b"caf\xc3", fin=False) +
                frame(OP_CONT, b"\xa9"))
good_then_close("max-ok", "a text of exactly 1000 bytes (client max 1000)",
                lambda: frame(OP_TEXT, b"m" * 1000))
good_then_close("ping-in-fragment",
                "a ping between the fragments of a text message",
                lambda: frame(OP_TEXT, "frag", fin=False) +
                frame(OP_PING, "mid") + frame(OP_CONT, "mented"))


@scenario("close-empty", "a close without code (valid: means 1005)")
async def s_close_empty(c):
    await c.send(c.answer_101())
    await c.send(close_frame(), "close without payload")
    await c.drain()


def work_then_close(name, code, reason):
    """A text message, then a close with CODE and REASON."""
    async def run(c):
        await c.send(c.answer_101())
        await c.send(frame(OP_TEXT, b"working"), "text 'working'")
        await c.send(close_frame(code, reason), f"close {code}")
        await c.drain()
    SCENARIOS[name] = (f"'working', then a close {code} {reason!r}", run)


work_then_close("close-1000", 1000, b"done")
work_then_close("close-1001", 1001, b"going away")
work_then_close("close-1011", 1011, b"internal error")


@scenario("close-4000", "a close with private-use code 4000")
async def s_close_4000(c):
    await c.send(c.answer_101())
    await c.send(close_frame(4000, b"private"), "close 4000")
    await c.drain()


# --- behaviour over time --------------------------------------------------

@scenario("echo", "a plain echo server (control)")
async def s_echo(c):
    await c.send(c.answer_101())
    await c.echo()


@scenario("no-close-answer", "echoes, but never answers the client's close")
async def s_no_close_answer(c):
    await c.send(c.answer_101())
    await c.echo(answer_close=False)


@scenario("violation-after-close",
          "echoes; answers the client's close with a masked frame")
async def s_violation_after_close(c):
    async def bad():
        await c.send(frame(OP_TEXT, "late", mask=b"\x01\x02\x03\x04"),
                     "a masked text instead of the close answer")
        await c.drain(3, closed=True)
    await c.send(c.answer_101())
    await c.echo(on_close=bad)


@scenario("no-answer", "reads the upgrade request, never answers")
async def s_no_answer(c):
    c.log("answering nothing")
    await c.drain(30)


@scenario("silent", "nothing after the 101, never a pong")
async def s_silent(c):
    await c.send(c.answer_101(), "101, then silence (pings ignored)")
    while True:
        f = await c.read_frame(60.0)
        if f is None:
            return
        c.log_frame(*f)


@scenario("early-frame", "101 and a first text frame in one TCP segment")
async def s_early_frame(c):
    await c.send(c.answer_101() + frame(OP_TEXT, "first-frame"),
                 "101 + text 'first-frame' in one write")
    await c.echo()


PONG_DEADLINE = 2.0


async def ping_check(c, late):
    """Ping, then hold the client's data messages until the pong with the
    ping's payload comes back; only then echo them (and go on echoing), or
    with "then=close" in the URL's query close 1000 at once.  No pong
    within PONG_DEADLINE s of the ping: FAIL, close 1008."""
    payload = b"are-you-there"
    loop = asyncio.get_running_loop()
    if late:
        await c.send(c.answer_101())
        await asyncio.sleep(0.3)
        await c.send(frame(OP_PING, payload), "ping 'are-you-there'")
    else:
        await c.send(c.answer_101() + frame(OP_PING, payload),
                     "101 + ping 'are-you-there' in one write")
    pinged = loop.time()
    held = []
    while True:
        left = pinged + PONG_DEADLINE - loop.time()
        f = await c.read_frame(max(left, 0.01)) if left > 0 else None
        if f is None:
            c.log(f"FAIL no pong within {PONG_DEADLINE:g} s of our ping")
            await c.send(close_frame(1008, b"no pong"), "close 1008")
            await c.drain(3)
            return
        fin, op, data = f
        c.log_frame(fin, op, data)
        if op == OP_PONG:
            took = loop.time() - pinged
            if data == payload:
                c.log(f"PASS pong with the ping's payload after {took:.2f} s")
                break
            c.log(f"FAIL pong payload {data!r}")
            await c.send(close_frame(1008, b"bad pong"), "close 1008")
            return
        if op == OP_CLOSE:
            c.log("FAIL client closed before answering our ping")
            await c.send(frame(OP_CLOSE, data[:2]))
            return
        if op in (OP_TEXT, OP_BINARY) and fin:
            held.append((op, data))
    if "then=close" in c.path:
        await c.send(close_frame(1000, b"pong ok"), "close 1000")
        await c.drain(3)
        return
    for op, data in held:
        await c.send(frame(op, data), f"echo of a held message ({len(data)} bytes)")
    await c.echo()


@scenario("ping-check",
          "pings with the 101; echoes the client's messages only once the"
          " pong came (within 2 s, else close 1008)")
async def s_ping_check(c):
    await ping_check(c, late=False)


@scenario("ping-check-late",
          "as ping-check, but the ping comes 0.3 s after the 101, alone")
async def s_ping_check_late(c):
    await ping_check(c, late=True)


# ----------------------------------------------------------------------

async def handle(reader, writer, default):
    name = default or "?"
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError, ConnectionError):
        log(name, "no complete request head")
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) > 1 else "/"
    headers = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    first = path.lstrip("/").split("?")[0].split("/")[0]
    if first in SCENARIOS:
        name = first
    c = Conn(name, reader, writer, headers, path)
    c.log(f"request {lines[0]} protocols={headers.get('sec-websocket-protocol', '-')}"
          f" extensions={headers.get('sec-websocket-extensions', '-')}")
    if name not in SCENARIOS:
        c.log("unknown scenario: 404")
        writer.write(refusal("404 Not Found", f"no scenario {path}\n"))
    else:
        try:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await SCENARIOS[name][1](c)
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            c.log(f"connection error: {e!r}")
    try:
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


async def main(args):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(
            sig, lambda: stop.done() or stop.set_result(None))
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args.scenario), args.host, args.port,
        limit=1 << 20, ssl=ctx)
    print(f"listening on {args.host}:{args.port}", file=sys.stderr, flush=True)
    await stop
    server.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--log")
    p.add_argument("--scenario", choices=sorted(SCENARIOS))
    p.add_argument("--list", action="store_true")
    p.add_argument("--cert", help="wss: serve TLS with this chain")
    p.add_argument("--key", help="wss: the chain's key")
    a = p.parse_args()
    if a.list:
        for k in sorted(SCENARIOS):
            print(f"{k:20} {SCENARIOS[k][0]}")
        sys.exit(0)
    if a.port is None:
        p.error("--port is required")
    LOG_FILE = a.log
    asyncio.run(main(a))
