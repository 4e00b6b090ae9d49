#!/usr/bin/python3
"""chunked_origin.py - an HTTP/1.1 origin speaking the framings that
http.server does not, for proxystack serve's keep-alive tests.

    chunked_origin.py --port P

GET /chunked   "chunked hello\\n" in three chunks, one with an extension,
               then a trailer; the connection stays open
GET /close     "closed hello\\n" without a length: the body ends when the
               connection closes
GET|HEAD /len  "length hello\\n" with Content-Length
GET /once      "once\n" with a length, then the connection closes
               without a word (as an origin's idle timeout does)
GET /bighead   a 20 kB response head
GET /badchunk  a chunk, then a malformed chunk size
GET /bad       a malformed Content-Length
POST /echo     the request body (Content-Length or chunked) back, chunked
Prints "connection N" on stdout for every accepted connection, so a
test can count them.  Standard library only; runs until killed.
"""

import argparse
import socketserver
import sys

COUNT = [0]


def read_head(f):
    lines = []
    while True:
        line = f.readline(65536)
        if not line:
            return None
        if line in (b"\r\n", b"\n"):
            return lines
        lines.append(line.decode("latin-1").rstrip("\r\n"))


def read_body(f, headers):
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size = int(f.readline().split(b";")[0], 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += f.read(size)
            f.readline()
    return f.read(int(headers.get("content-length", "0")))


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        COUNT[0] += 1
        print("connection %d" % COUNT[0], flush=True)
        while True:
            lines = read_head(self.rfile)
            if not lines:
                return
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for h in lines[1:]:
                k, v = h.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            body = read_body(self.rfile, headers)
            if not self.answer(method, path, body):
                return

    def answer(self, method, path, body):
        w = self.wfile.write
        if path == "/chunked":
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
              b"Trailer: X-Sum\r\n\r\n"
              b"8;name=value\r\nchunked \r\n"
              b"3\r\nhel\r\n3\r\nlo\n\r\n0\r\nX-Sum: 14\r\n\r\n")
        elif path == "/close":
            w(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclosed hello\n")
            return False
        elif path == "/once":
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nonce\n")
            return False
        elif path == "/bighead":
            w(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
            return False
        elif path == "/badchunk":
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\nzz\r\n")
            return False
        elif path == "/bad":
            w(b"HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello")
            return False
        elif path == "/echo":
            w(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            if body:
                w(b"%x\r\n%s\r\n" % (len(body), body))
            w(b"0\r\n\r\n")
        else:
            data = b"length hello\n"
            w(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data))
            if method != "HEAD":
                w(data)
        self.wfile.flush()
        return True


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    a = ap.parse_args()
    Server(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
