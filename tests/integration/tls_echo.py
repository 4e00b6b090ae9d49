#!/usr/bin/python3
"""tls_echo.py - a TLS (or plain TCP) echo server for proxystack's tests.

Every connection gets back the bytes it sends.  When the client shuts its
sending side (TCP FIN, or TLS close_notify), the server has already echoed
everything, so it closes: close_notify then FIN for TLS, FIN for TCP.  So
`proxystack connect --half-close` gets the whole echo and exits; without
--half-close (or -q) connect sends nothing at EOF and this server never
closes.

    tls_echo.py --port P [--host ADDR]... (--plain | --cert F --key F)
                [--client-ca F] [--max-tls 1.2] [--alpn h2,http/1.1]
                [--no-close-notify]

--no-close-notify ends TLS connections with a bare TCP close, as many
servers do.  --host may be given several times (127.0.0.1 and ::1 on one port); the
default is 127.0.0.1.  --port 0 picks a free port and prints "port N" on
stdout.  --client-ca demands a client certificate that chains to F.
Events go to stderr, one line each, for the test logs: the TLS version,
ALPN and client certificate subject of each connection, and byte counts.

Runs until killed (SIGTERM).  Uses only the standard library; run it with
/usr/bin/python3 so Debian's ssl module is the one loaded.
"""

import argparse
import socket
import ssl
import sys
import threading


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def subject_cn(cert):
    """The CN of a getpeercert() dict, or '-' when there is no certificate."""
    if not cert:
        return "-"
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return "?"


def make_context(args):
    if args.plain:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=args.client_ca)
    if args.max_tls == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))
    return ctx


def close_tls(conn, who):
    """Send our close_notify; the peer's came already (or never will)."""
    try:
        return conn.unwrap()
    except (ssl.SSLError, OSError) as e:
        log(f"{who}: no clean TLS shutdown: {e}")
        return conn


def serve(raw, addr, ctx, close_notify=True):
    who = f"{addr[0]}:{addr[1]}"
    conn = raw
    total = 0
    try:
        if ctx is not None:
            conn = ctx.wrap_socket(raw, server_side=True)
            log(f"{who}: {conn.version()} {conn.cipher()[0]}"
                f" alpn={conn.selected_alpn_protocol()}"
                f" client={subject_cn(conn.getpeercert())}")
        else:
            log(f"{who}: connected")
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
            total += len(data)
        log(f"{who}: peer closed its sending side after {total} bytes")
        if ctx is not None and close_notify:
            conn = close_tls(conn, who)
        elif ctx is not None:
            # SSLSocket.shutdown() drops TLS first: a bare FIN.
            log(f"{who}: closing without close_notify")
        conn.shutdown(socket.SHUT_WR)
    except (ssl.SSLError, OSError) as e:
        log(f"{who}: {type(e).__name__}: {e} (after {total} bytes)")
    finally:
        conn.close()


def listen(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((host, port))
    sock.listen(64)
    return sock


def accept_loop(sock, ctx, close_notify):
    while True:
        raw, addr = sock.accept()
        threading.Thread(target=serve, args=(raw, addr, ctx, close_notify),
                         daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", action="append")
    p.add_argument("--plain", action="store_true", help="TCP, no TLS")
    p.add_argument("--cert", help="server certificate chain (PEM)")
    p.add_argument("--key", help="its private key (PEM)")
    p.add_argument("--client-ca", help="require a client cert from this CA")
    p.add_argument("--max-tls", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--alpn", help="comma-separated ALPN protocols")
    p.add_argument("--no-close-notify", action="store_true",
                   help="end TLS with a TCP close, no close_notify")
    args = p.parse_args()
    if not args.plain and not (args.cert and args.key):
        p.error("--cert and --key are required unless --plain")

    ctx = make_context(args)
    port = args.port
    sockets = []
    for host in args.host or ["127.0.0.1"]:
        try:
            sock = listen(host, port)
        except OSError as e:
            # ::1 may be missing on some machines: serve what we can.
            log(f"cannot listen on {host}:{port}: {e}")
            continue
        port = sock.getsockname()[1]
        sockets.append(sock)
        log(f"listening on {host}:{port} ({'tcp' if args.plain else 'tls'})")
    if not sockets:
        sys.exit(1)
    if args.port == 0:
        print(f"port {port}", flush=True)

    threads = [threading.Thread(target=accept_loop,
                                args=(s, ctx, not args.no_close_notify),
                                daemon=True) for s in sockets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
