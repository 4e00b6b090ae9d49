#!/usr/bin/python3
"""http_origin.py - an HTTP/1.1 origin server for proxystack serve's tests.

    http_origin.py --port P [--host H] [--cert F --key F]

GET /            "hello from origin\\n"
GET /bytes/N     N bytes (a repeating pattern), for throughput
GET /headers     the request head as received, so a test can see which
                 headers a proxy passed on
POST /echo       the request body back
Keep-alive HTTP/1.1; TLS with --cert/--key.  Runs until killed.
Standard library only; run it with /usr/bin/python3.
"""

import argparse
import http.server
import socketserver
import ssl

PATTERN = bytes(range(256)) * 256


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/":
            self.send_body(b"hello from origin\n")
        elif self.path.startswith("/bytes/"):
            n = int(self.path[len("/bytes/"):])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0:
                chunk = PATTERN[: min(n, len(PATTERN))]
                self.wfile.write(chunk)
                n -= len(chunk)
        elif self.path == "/headers":
            head = self.requestline + "\n" + str(self.headers)
            self.send_body(head.encode("latin-1"))
        else:
            self.send_error(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.send_body(self.rfile.read(n), "application/octet-stream")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    srv = Server((a.host, a.port), Handler)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
