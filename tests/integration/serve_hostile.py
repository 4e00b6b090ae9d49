#!/usr/bin/python3
"""serve_hostile.py - hostile clients for proxystack serve's tests.

    serve_hostile.py MODE PORT [ARG]

garbage         64 KiB of random bytes (not starting with 0x05); prints the
                first line of what comes back before the close
socks-garbage   0x05 then random bytes; prints the bytes back, in hex
slow            a CONNECT head trickled one byte every 0.3 s; prints the
                status line and how many seconds until serve closed
longline        a 1 MiB request line; prints the status line
halfopen N      N connections that send half a head and shut their
                sending side, then N tunnels (CONNECT to ARG... see below)
                left half-closed; prints "ok" once serve closed the first
                kind and still answers
halfclose-get O a GET http://127.0.0.1:O/ then a half-close; prints the body
flood N         N connections opened and dropped at once, half of them
                with a reset; prints "done"
hold N          N connections held open (nothing sent) until stdin ends;
                prints how many connected
Standard library only; run it with /usr/bin/python3.
"""

import os
import select
import socket
import struct
import sys
import time


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_all(s, limit=1 << 20):
    data = b""
    try:
        while len(data) < limit:
            got = s.recv(65536)
            if not got:
                break
            data += got
    except (ConnectionResetError, socket.timeout):
        pass
    return data


def first_line(data):
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def garbage(port):
    s = connect(port)
    junk = bytearray(os.urandom(65536))
    junk[0] = 0x16  # a TLS record type: a client that forgot -x https
    try:
        s.sendall(bytes(junk))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(first_line(read_all(s)))


def socks_garbage(port):
    s = connect(port)
    try:
        s.sendall(b"\x05" + os.urandom(300))
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(read_all(s).hex() or "closed")


def slow(port):
    s = connect(port)
    start = time.monotonic()
    head = b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n" + b"X: y\r\n" * 100
    try:
        for b in head:
            s.sendall(bytes([b]))
            # Stop at the first byte of an answer: the time is serve's.
            if select.select([s], [], [], 0.3)[0]:
                break
            if time.monotonic() - start > 20:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    took = time.monotonic() - start
    data = read_all(s)
    print(first_line(data), round(took))


def longline(port):
    s = connect(port)
    try:
        s.sendall(b"GET http://example.com/" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    print(first_line(read_all(s)))


def halfopen(port, n):
    socks = []
    for _ in range(n):
        s = connect(port)
        s.sendall(b"CONNECT localhost:1 HTTP/1.1\r\n")
        s.shutdown(socket.SHUT_WR)
        socks.append(s)
    closed = 0
    for s in socks:
        if read_all(s) is not None:
            closed += 1
        s.close()
    print("closed", closed)


def halfclose_get(port, origin):
    s = connect(port)
    s.sendall(b"GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
              % origin)
    s.shutdown(socket.SHUT_WR)
    data = read_all(s)
    print(data.split(b"\r\n\r\n", 1)[-1].decode("latin-1"), end="")


def flood(port, n):
    for i in range(n):
        try:
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass
    print("done")


def hold(port, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(port))
        except OSError:
            break
    print("connected", len(socks), flush=True)
    sys.stdin.read()


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    arg = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    {"garbage": lambda: garbage(port),
     "socks-garbage": lambda: socks_garbage(port),
     "slow": lambda: slow(port),
     "longline": lambda: longline(port),
     "halfopen": lambda: halfopen(port, arg),
     "flood": lambda: flood(port, arg),
     "halfclose-get": lambda: halfclose_get(port, arg),
     "hold": lambda: hold(port, arg)}[mode]()


if __name__ == "__main__":
    main()
