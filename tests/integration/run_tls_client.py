#!/usr/bin/python3
"""run_tls_client.py - a TLS echo client written as agents write them,
for the t_run_*.sh scripts: socket.create_connection() + ssl, the
server's certificate verified.

    run_tls_client.py CAFILE HOST PORT MESSAGE

Sends MESSAGE and a newline, reads the echo up to the newline, prints
"ECHO PEER" (PEER: the address getpeername() reports).  Exit 0 on a
whole echo; any failure raises.
"""
import socket
import ssl
import sys


def main():
    cafile, host, port, message = sys.argv[1:5]
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, int(port)), timeout=20) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(message.encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = tls.recv(100)
                if not chunk:
                    raise SystemExit("connection closed before the echo")
                data += chunk
            print(data.decode().strip(), tls.getpeername()[0])


if __name__ == "__main__":
    main()
