#!/usr/bin/python3
"""kdc_hold.py - a TCP relay in front of the KDC that holds each request.

    kdc_hold.py --port PORT --kdc KDC_PORT --held FILE --release FILE

Listens on 127.0.0.1:PORT.  For each connection (a Kerberos client's
request over TCP) it appends "held N" to --held, then waits until the
--release file exists (60 s at most) before connecting to the real KDC on
127.0.0.1:KDC_PORT and relaying both ways until either side closes.  A
test can so keep a client's ticket request pending for as long as it
needs, without a timing guess: the request is answered when the test says.
"""
import argparse
import os
import socket
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client, number, args):
    with open(args.held, "a") as log:
        log.write("held %d\n" % number)
    deadline = time.monotonic() + 60
    while not os.path.exists(args.release) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        kdc = socket.create_connection(("127.0.0.1", args.kdc), timeout=10)
        kdc.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=pump, args=(kdc, client), daemon=True)
    back.start()
    pump(client, kdc)
    back.join(30)
    client.close()
    kdc.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--kdc", type=int, required=True)
    ap.add_argument("--held", required=True)
    ap.add_argument("--release", required=True)
    args = ap.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    number = 0
    while True:
        client, _ = srv.accept()
        number += 1
        threading.Thread(target=serve, args=(client, number, args),
                         daemon=True).start()


if __name__ == "__main__":
    main()
