#!/usr/bin/python3
"""answer_server.py - a request/answer server for `proxystack connect` tests.

Unlike tls_echo.py, it answers a request without waiting for the client's
end of input, as an HTTP server does, so it shows whether connect keeps
printing after its stdin ended:

    answer_server.py --port P [--cert F --key F] [--mode MODE]
                     [--size BYTES] [--delay SECONDS]

--mode answer (default): read a request head (up to an empty line),
    wait --delay seconds (0.5), answer "HTTP/1.1 200 OK" with a body of
    --size bytes (100000) of "answer\\n" lines, then close cleanly
    (close_notify then FIN for TLS, FIN for TCP).
--mode at-eof: read until the client ends its sending side (FIN or
    close_notify), then answer "got N bytes\\n" and close: a server that
    needs the client's half-close.
--mode reset: read a request head, send the head of the answer and half
    of its body, then reset the connection (RST, no close_notify).

--cert/--key: TLS instead of plain TCP.  One line per event on stderr.
Runs until killed (SIGTERM).  Standard library only; run it with
/usr/bin/python3.
"""

import argparse
import socket
import ssl
import struct
import sys
import threading
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_head(conn):
    """Bytes up to and including the first empty line, or all before EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def read_to_eof(conn):
    total = 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return total
        total += len(chunk)


def body_of(size):
    line = b"answer\n"
    return (line * (size // len(line) + 1))[:size]


def head_of(size):
    return (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n" % size)


def close_cleanly(conn, tls):
    if tls:
        try:
            conn = conn.unwrap()
        except (ssl.SSLError, OSError) as e:
            log(f"no clean TLS shutdown: {e}")
    conn.shutdown(socket.SHUT_WR)
    return conn


def reset(conn):
    """SO_LINGER 0 then close: the kernel sends RST, not FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))


def serve(raw, addr, ctx, args):
    who = f"{addr[0]}:{addr[1]}"
    conn = raw
    try:
        if ctx is not None:
            conn = ctx.wrap_socket(raw, server_side=True)
        log(f"{who}: connected ({args.mode})")
        if args.mode == "at-eof":
            total = read_to_eof(conn)
            log(f"{who}: end of input after {total} bytes")
            conn.sendall(b"got %d bytes\n" % total)
            conn = close_cleanly(conn, ctx is not None)
            return
        head = read_head(conn)
        first = head.split(b"\r\n")[0]
        log(f"{who}: request {first!r}")
        time.sleep(args.delay)
        body = body_of(args.size)
        if args.mode == "reset":
            conn.sendall(head_of(args.size) + body[:args.size // 2])
            time.sleep(0.2)
            reset(raw)
            log(f"{who}: reset after half the answer")
            return
        conn.sendall(head_of(args.size) + body)
        log(f"{who}: answered {args.size} bytes")
        conn = close_cleanly(conn, ctx is not None)
    except (ssl.SSLError, OSError) as e:
        log(f"{who}: {type(e).__name__}: {e}")
    finally:
        if args.mode == "reset":
            raw.close()
        else:
            conn.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--mode", choices=["answer", "at-eof", "reset"],
                   default="answer")
    p.add_argument("--size", type=int, default=100000)
    p.add_argument("--delay", type=float, default=0.5)
    args = p.parse_args()
    ctx = None
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(64)
    log(f"listening on 127.0.0.1:{args.port}")
    while True:
        raw, addr = sock.accept()
        threading.Thread(target=serve, args=(raw, addr, ctx, args),
                         daemon=True).start()


if __name__ == "__main__":
    main()
