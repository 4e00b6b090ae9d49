#!/usr/bin/python3
"""scripted_proxy.py - a proxy that answers CONNECT from a script.

Each connection reads the client's request head, logs it (so tests can
assert what the client sent), then plays the scenario named on the command
line.  Scenarios that accept the tunnel then echo whatever the client sends,
so a tcp:// channel through them round-trips data.

    scripted_proxy.py --port P --scenario NAME [--log FILE]
"""
import argparse
import socket
import struct
import sys
import threading
import time


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def reset(conn):
    """Close with an RST instead of a FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack("ii", 1, 0))
    conn.close()


def drip(conn, data, delay=0.005):
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(delay)


def chunked(body, size=4096):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


HTML_403 = (b"<!DOCTYPE html>\n<html><head><style>p {color: red}</style>"
            b"<title>Blocked by corporate policy 42</title></head>\n<body>\n"
            b"<p>Access denied by corporate policy 42</p></body></html>\n")

OK = b"HTTP/1.1 200 Connection established\r\n\r\n"


def scenario(name, conn, head):
    """Play one scenario after the request head was read."""
    if name == "407-close-then-ok":
        # Like tinyproxy: a 407 that closes; credentials on a new one.
        if b"\nProxy-Authorization: Basic " in head:
            conn.sendall(OK)
            echo(conn)
        else:
            conn.sendall(b"HTTP/1.0 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"t\"\r\n"
                         b"Connection: close\r\n\r\n")
    elif name == "slow-ok":
        # Answers after 300 ms, longer than a non-blocking connect()
        # under `proxystack run` builds the chain itself.
        time.sleep(0.3)
        conn.sendall(OK)
        echo(conn)
    elif name == "slow-503":
        time.sleep(0.3)
        conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\n"
                     b"Content-Length: 0\r\n\r\n")
        time.sleep(0.5)
    elif name == "reset-before-answer":
        reset(conn)
    elif name == "reset-mid-head":
        conn.sendall(b"HTTP/1.1 200 Conn")
        time.sleep(0.05)
        reset(conn)
    elif name == "reset-after-200":
        conn.sendall(OK)
        time.sleep(0.05)
        reset(conn)
    elif name == "endless-headers":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        try:
            for i in range(100000):
                conn.sendall(b"X-Filler-%d: %s\r\n" % (i, b"y" * 40))
        except OSError:
            pass
    elif name == "mib-line":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"z" * (1 << 20) +
                     b"\r\n\r\n")
        time.sleep(2)
    elif name == "http09":
        conn.sendall(b"<html>hello from 1991</html>\n")
        time.sleep(2)
    elif name == "slow-drip":
        # A byte every 300 ms: the whole head would take ~12 s.
        drip(conn, OK, 0.3)
        echo(conn)
    elif name == "407-huge-body":
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"x\"\r\n"
                     b"Content-Length: 104857600\r\n\r\n")
        try:
            for _ in range(1600):
                conn.sendall(b"b" * 65536)
        except OSError:
            pass
    elif name == "ok":
        conn.sendall(OK)
        echo(conn)
    elif name == "ok-drip":
        drip(conn, OK)
        echo(conn)
    elif name == "ok-early":
        # The head and the first tunnel bytes in one segment.
        conn.sendall(OK + b"early-bytes\n")
        echo(conn)
    elif name == "http10":
        conn.sendall(b"HTTP/1.0 200 Connection established\r\n\r\n")
        echo(conn)
    elif name == "ok-201-lf":
        # Any 2xx; bare LF line ends.
        conn.sendall(b"HTTP/1.1 201 Created\nServer: odd\n\n")
        echo(conn)
    elif name == "ok-framing":
        # Folded header, and framing headers a 2xx must ignore.
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  continued\r\n"
                     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
        echo(conn)
    elif name == "407":
        body = b"0123456789"
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                     b"Proxy-Authenticate: NTLM\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        conn.recv(65536)
    elif name == "407-chunked":
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Negotiate\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     chunked(b"x" * 100000))
        conn.recv(65536)
    elif name == "407-loop":
        # Asks again whatever the client sends, on the same connection.
        while True:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                         b"Content-Length: 0\r\n\r\n")
            if not read_head(conn, LOG):
                return
    elif name == "407-chunked-then-cl":
        # One connection: a chunked 407 (Digest), then a 407 with
        # Content-Length (stale nonce) whose body must not be read as
        # chunks, then the tunnel for the answer to the second nonce.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Digest realm=\"corp\", "
                     b"nonce=\"n1\", qop=\"auth\"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n" +
                     chunked(b"log in first\n"))
        head = read_head(conn, LOG)
        if not head:
            return
        body = b"stale nonce, ask again"
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Digest realm=\"corp\", "
                     b"nonce=\"n2\", qop=\"auth\", stale=true\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        ok_if_authorized(conn, b"Digest ", b'nonce="n2"')
    elif name == "407-chunk-ext":
        # Chunk-size lines with extensions full of hex letters.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n"
                     b"5;name=abc\r\nhello\r\n"
                     b"6 ; q=\"fade\"\r\n world\r\n"
                     b"0;end=cafe\r\n\r\n")
        ok_if_authorized(conn, b"Basic ")
    elif name == "407-chunk-nodigit":
        # A chunk-size line without a hex digit.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\nhello\r\n0\r\n\r\n")
        ok_if_authorized(conn, b"Basic ")
    elif name == "407-chunk-huge":
        # A chunk size no answer to CONNECT can have.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Basic realm=\"corp\"\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n"
                     b"ffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
        ok_if_authorized(conn, b"Basic ")
    elif name == "407-digest-loop":
        # Asks for Digest (a long realm) whatever the client sends.
        while True:
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                         b"Proxy-Authenticate: Digest realm=\"" +
                         b"r" * 100 + b"\", nonce=\"n%d\", qop=\"auth\""
                         b"\r\nContent-Length: 0\r\n\r\n" % time.time_ns())
            if not read_head(conn, LOG):
                return
    elif name == "bare-cr":
        # A CR inside a header line: where does the line end?
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\rX-B: b\r\n\r\n")
        echo(conn)
    elif name == "nul-header":
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n")
        echo(conn)
    elif name == "407-digest-ctl":
        # A control byte inside a value the client would echo back.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Digest realm=\"co\x01rp\", "
                     b"nonce=\"n1\", qop=\"auth\"\r\n"
                     b"Content-Length: 0\r\n\r\n")
        ok_if_authorized(conn, b"Digest ")
    elif name == "407-digest-quoted":
        # Values with '"' and '\' as quoted-pairs: the client must hash
        # the unescaped values and quote them again when it echoes them.
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                     b"Proxy-Authenticate: Digest realm=\"" + QUOTED_REALM +
                     b"\", nonce=\"" + QUOTED_NONCE + b"\", opaque=\"" +
                     QUOTED_OPAQUE + b"\", qop=\"auth\"\r\n"
                     b"Content-Length: 0\r\n\r\n")
        head = read_head(conn, LOG)
        if head and digest_ok(head):
            conn.sendall(OK)
            echo(conn)
        elif head:
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n"
                         b"\r\nbad digest\r\n")
    elif name == "403":
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(HTML_403) + HTML_403)
        conn.recv(65536)
    elif name == "502":
        conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n"
                     b"upstream connect failed: no route\n")
    elif name == "garbage":
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        conn.recv(65536)
    elif name == "close":
        pass
    elif name == "silent":
        conn.recv(65536)
        time.sleep(30)
    elif name == "no-blank":
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        time.sleep(30)
    elif name == "huge-head":
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 20000 +
                     b"\r\n\r\n")
        time.sleep(5)
    else:
        sys.stderr.write("unknown scenario %s\n" % name)


LOG = None

# The Digest challenge of 407-digest-quoted, as sent (quoted-string
# bodies), and the password its client must be configured with.
QUOTED_REALM = b'a \\"q\\" \\\\ r'       # a "q" \ r
QUOTED_NONCE = b'n\\\\1\\"'               # n\1"
QUOTED_OPAQUE = b'o\\"p'                   # o"p
DIGEST_PASSWORD = b"pw"


def unquote(value):
    """The content of a quoted-string body (quoted-pairs resolved)."""
    out, i = b"", 0
    while i < len(value):
        if value[i:i + 1] == b"\\":
            i += 1
        out += value[i:i + 1]
        i += 1
    return out


def digest_params(head):
    """Proxy-Authorization: Digest's parameters, values unquoted."""
    line = [l for l in head.split(b"\r\n")
            if l.startswith(b"Proxy-Authorization: Digest ")]
    if len(line) != 1:
        return None
    text, params, i = line[0][len(b"Proxy-Authorization: Digest "):], {}, 0
    while i < len(text):
        eq = text.index(b"=", i)
        name = text[i:eq].strip(b" ,")
        i = eq + 1
        if text[i:i + 1] == b'"':
            j = i + 1
            while text[j:j + 1] != b'"':
                j += 2 if text[j:j + 1] == b"\\" else 1
            params[name] = unquote(text[i + 1:j])
            i = j + 1
        else:
            j = text.find(b",", i)
            j = len(text) if j < 0 else j
            params[name] = text[i:j].strip()
            i = j
        i += 1
    return params


def digest_ok(head):
    """The client echoed the unescaped challenge and answered it right."""
    import hashlib
    p = digest_params(head)
    if not p or p.get(b"realm") != unquote(QUOTED_REALM) or \
            p.get(b"nonce") != unquote(QUOTED_NONCE) or \
            p.get(b"opaque") != unquote(QUOTED_OPAQUE):
        return False
    h = lambda b: hashlib.md5(b).hexdigest().encode()
    ha1 = h(p[b"username"] + b":" + p[b"realm"] + b":" + DIGEST_PASSWORD)
    ha2 = h(b"CONNECT:" + p[b"uri"])
    want = h(b":".join([ha1, p[b"nonce"], p[b"nc"], p[b"cnonce"],
                        b"auth", ha2]))
    return p.get(b"response") == want


def ok_if_authorized(conn, scheme, must=b""):
    """Read the retry on this connection: the tunnel if it carries
    Proxy-Authorization with 'scheme' (and 'must'), else a 403."""
    head = read_head(conn, LOG)
    if not head:
        return
    if (b"\nProxy-Authorization: " + scheme) in head and must in head:
        conn.sendall(OK)
        echo(conn)
    else:
        body = b"unexpected retry\n"
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)


def read_head(conn, log=None):
    """The request head; appended to 'log' (a path) when given."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(4096)
        if not piece:
            return None
        data += piece
    if log:
        with open(log, "ab") as f:
            f.write(data + b"----\n")
    return data


def serve(conn, args):
    try:
        if args.scenario == "raw-reset":
            # Any protocol (a TLS ClientHello, say): read, then RST.
            conn.recv(65536)
            reset(conn)
            return
        head = read_head(conn, args.log)
        if head is None:
            return
        scenario(args.scenario, conn, head)
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--log")
    ap.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or ::1")
    args = ap.parse_args()
    global LOG
    LOG = args.log
    srv = socket.socket(socket.AF_INET6 if ":" in args.host
                        else socket.AF_INET)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.host, args.port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, args), daemon=True).start()


if __name__ == "__main__":
    main()
