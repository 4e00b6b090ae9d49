#!/usr/bin/python3
"""pac_server.py - serves one PAC script for tests/integration/t_pac_fetch.sh.

    pac_server.py --port P --script FILE [--cert F --key F]

GET /proxy.pac      the script (Content-Length)
GET /chunked.pac    the script, Transfer-Encoding: chunked, in 3 chunks
GET /huge.pac       2 MiB of comment (over the 1 MiB limit)
anything else       404
"""
import argparse
import http.server
import ssl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--script", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            print("request: " + (fmt % a), flush=True)

        def do_GET(self):
            with open(args.script, "rb") as f:
                body = f.read()
            if self.path == "/proxy.pac":
                self.send_response(200)
                self.send_header("Content-Type",
                                 "application/x-ns-proxy-autoconfig")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=60")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            elif self.path == "/chunked.pac":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                third = max(1, len(body) // 3)
                for i in range(0, len(body), third):
                    part = body[i:i + third]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif self.path == "/huge.pac":
                huge = b"//" + b"x" * (2 << 20) + b"\n" + body
                self.send_response(200)
                self.send_header("Content-Length", str(len(huge)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(huge)
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening on 127.0.0.1:%d" % args.port, flush=True)
    server.serve_forever()


main()
