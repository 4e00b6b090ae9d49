#!/usr/bin/python3
"""h2_connect.py - HTTP/2 CONNECT tunnels through an HTTPS proxy, stdlib only.

A reference client for the tests, independent of proxystack: it proves that
an HTTP/2 proxy (nghttpx --http2-proxy) relays CONNECT streams before any
test blames proxystack for a failure through it.

    h2_connect.py --proxy HOST:PORT --ca FILE --authority HOST:PORT
                  [--streams N] [--data TEXT] [--proxy-user USER:PASS]

Opens one TLS connection to the proxy with ALPN h2 (and nothing else), then N
CONNECT streams to --authority on it at once (RFC 9113 section 8.5).  Each
stream sends "TEXT N" with END_STREAM (a half-close) and reads until its
bytes came back or the proxy ends the stream.  Prints one
line per stream, "stream ID status S echo ok|bad", and exits 0 only if every
stream got :status 200 and its own bytes back.

Only what this needs: no Huffman decoding (a :status that needs it is shown
as the raw header block), no server push, at most 16 KiB per stream.
"""

import argparse
import base64
import socket
import ssl
import struct
import sys

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def hpack_literal(index, value):
    """Literal header field without indexing, name from the static table."""
    raw = value.encode()
    assert index < 15 and len(raw) < 127
    return bytes([index, len(raw)]) + raw


def hpack_literal_name(name, value):
    """Literal header field without indexing, new name (lowercase)."""
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return bytes([0, len(n)]) + n + bytes([len(v)]) + v


def decode_status(block):
    """:status from a header block whose first field is :status (as nghttpx
    sends it): indexed (0x88 is 200, static entries 8-14) or a literal
    with name index 8 and a plain (not Huffman) value, e.g. 48 03 "403"."""
    static = {8: "200", 9: "204", 10: "206", 11: "304", 12: "400",
              13: "404", 14: "500"}
    if block and block[0] & 0x80:
        return static.get(block[0] & 0x7F, f"index {block[0] & 0x7F}")
    # 01xxxxxx: with incremental indexing; 0000xxxx/0001xxxx: without.
    index = block[0] & 0x3F if block[:1] and block[0] & 0x40 else \
        (block[0] & 0x0F if block else 0)
    if index == 8 and len(block) >= 2 and not block[1] & 0x80:
        return block[2:2 + block[1]].decode(errors="replace")
    return f"undecoded({block[:16].hex()})"


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("proxy closed the connection")
        buf += chunk
    return buf


def read_frame(sock):
    head = read_exact(sock, 9)
    length = struct.unpack(">I", b"\0" + head[:3])[0]
    stream = struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
    return head[3], head[4], stream, read_exact(sock, length)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--proxy", required=True, help="HOST:PORT of the proxy")
    p.add_argument("--ca", required=True, help="CA of the proxy's certificate")
    p.add_argument("--authority", required=True, help="HOST:PORT to CONNECT to")
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--data", default="hello over h2")
    p.add_argument("--proxy-user", help="USER:PASSWORD for Basic auth")
    p.add_argument("--timeout", type=float, default=10)
    args = p.parse_args()

    host, port = args.proxy.rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((host, int(port)), timeout=args.timeout)
    sock = ctx.wrap_socket(raw, server_hostname=host)
    if sock.selected_alpn_protocol() != "h2":
        print(f"ALPN picked {sock.selected_alpn_protocol()!r}, not h2")
        return 1

    ids = [1 + 2 * i for i in range(args.streams)]
    want = {sid: f"{args.data} {sid}".encode() for sid in ids}
    got = {sid: b"" for sid in ids}
    status = {sid: None for sid in ids}
    done = set()

    # Preface, our SETTINGS (defaults), a big connection window.
    out = PREFACE + frame(SETTINGS, 0, 0) + \
        frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 24))
    for sid in ids:
        block = hpack_literal(2, "CONNECT") + hpack_literal(1, args.authority)
        if args.proxy_user:
            token = base64.b64encode(args.proxy_user.encode()).decode()
            block += hpack_literal_name("proxy-authorization", "Basic " + token)
        out += frame(HEADERS, END_HEADERS, sid, block)
    sock.sendall(out)

    sent = set()
    while len(done) < len(ids):
        ftype, flags, sid, payload = read_frame(sock)
        if ftype == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif ftype == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif ftype == GOAWAY:
            print(f"GOAWAY {payload.hex()}")
            return 1
        elif sid in status and ftype == HEADERS:
            status[sid] = decode_status(payload)
            if status[sid] == "200" and sid not in sent:
                sock.sendall(frame(DATA, END_STREAM, sid, want[sid]))
                sent.add(sid)
            if flags & END_STREAM:
                done.add(sid)
        elif sid in status and ftype == DATA:
            got[sid] += payload
            if payload:
                inc = struct.pack(">I", len(payload))
                sock.sendall(frame(WINDOW_UPDATE, 0, 0, inc) +
                             frame(WINDOW_UPDATE, 0, sid, inc))
            # Whether the proxy passes our half-close on is its business:
            # the echo is complete when all our bytes came back.
            if flags & END_STREAM or len(got[sid]) >= len(want[sid]):
                done.add(sid)
        elif sid in status and ftype == RST_STREAM:
            print(f"stream {sid} RST_STREAM {payload.hex()}")
            done.add(sid)

    good = True
    for sid in ids:
        echo = "ok" if got[sid] == want[sid] else "bad"
        print(f"stream {sid} status {status[sid]} echo {echo}")
        good = good and status[sid] == "200" and echo == "ok"
    sock.close()
    return 0 if good else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError, ssl.SSLError) as e:
        print(f"error: {type(e).__name__}: {e}")
        sys.exit(1)
