#!/usr/bin/python3
"""pac_server.py - serves one PAC script for tests/integration/t_pac_fetch.sh.

    pac_server.py --port P --script FILE [--cert F --key F] [--other URL]

GET .../proxy.pac   the script (Content-Length), under any directory
GET /r/CODE/abs     CODE (301 302 303 307 308) to this server's
                    absolute URL of /proxy.pac
GET /r/CODE/path    CODE to "/proxy.pac" (an absolute path)
GET /r/CODE/rel     CODE to "proxy.pac" (relative: /r/CODE/proxy.pac)
GET /r/CODE/net     CODE to "//localhost:PORT/proxy.pac" (scheme-relative)
GET /chain/N        302 to /chain/N-1; /chain/0 is the script
GET /loop/a, /loop/b  302 to each other
GET /other          302 to --other URL
GET /nolocation     302 without a Location
GET /ftp            302 to an ftp:// URL
GET /gone           302 to /missing.pac (a 404)
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
    ap.add_argument("--other")
    args = ap.parse_args()
    scheme = "https" if args.cert else "http"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            print("request: " + (fmt % a), flush=True)

        def redirect(self, code, location):
            self.send_response(code)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

        def redirect_target(self):
            """(code, Location) for a redirecting path, or None."""
            parts = self.path.split("/")
            here = "%s://127.0.0.1:%d" % (scheme, args.port)
            if (len(parts) == 4 and parts[1] == "r"
                    and parts[3] != "proxy.pac"):
                forms = {"abs": here + "/proxy.pac", "path": "/proxy.pac",
                         "rel": "proxy.pac",
                         "net": "//localhost:%d/proxy.pac" % args.port}
                return int(parts[2]), forms[parts[3]]
            if len(parts) == 3 and parts[1] == "chain" and parts[2] != "0":
                return 302, "/chain/%d" % (int(parts[2]) - 1)
            targets = {"/loop/a": "/loop/b", "/loop/b": here + "/loop/a",
                       "/other": args.other, "/nolocation": None,
                       "/ftp": "ftp://127.0.0.1/proxy.pac",
                       "/gone": "/missing.pac"}
            if self.path in targets:
                return 302, targets[self.path]
            return None

        def do_GET(self):
            with open(args.script, "rb") as f:
                body = f.read()
            target = self.redirect_target()
            if target:
                self.redirect(*target)
            elif self.path.endswith("/proxy.pac") or self.path == "/chain/0":
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
