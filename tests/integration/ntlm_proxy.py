#!/usr/bin/python3
"""ntlm_proxy.py - a CONNECT proxy that plays one NTLM scenario.

Every connection: 407 offering NTLM to a request without credentials, a
Type 2 challenge to a Type 1, then what the scenario says.  Each request
head is appended to the log, with the connection's number in front, so a
test can tell which requests shared a connection.

    ntlm_proxy.py --port P --scenario NAME --log FILE

Scenarios:
    reject       407 again after the Type 3 (a wrong password)
    close        closes the connection right after sending the Type 2
    lm-only      a Type 2 without NTLMSSP_NEGOTIATE_NTLM (LM only)
    garbage      a Type 2 that is not base64
    accept-ts    a Type 2 whose target info holds MsvAvTimestamp; 200
                 after a Type 3, then echo
"""
import argparse
import base64
import socket
import struct
import threading

from scripted_proxy import read_head

COUNTER = [0]
LOCK = threading.Lock()


def challenge(flags, target_info=b""):
    head = b"NTLMSSP\0" + struct.pack("<I", 2)
    head += struct.pack("<HHI", 0, 0, 48)              # TargetName
    head += struct.pack("<I", flags) + bytes.fromhex("0123456789abcdef")
    head += b"\0" * 8
    head += struct.pack("<HHI", len(target_info), len(target_info), 48)
    return head + target_info


def answer_407(conn, auth, close=False):
    conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                 b"Proxy-Authenticate: " + auth + b"\r\n"
                 b"Content-Length: 0\r\n"
                 + (b"Connection: close\r\n" if close else b"") + b"\r\n")


def serve(conn, scenario, log):
    with LOCK:
        COUNTER[0] += 1
        number = COUNTER[0]
    flags = 0x00888207 if scenario != "lm-only" else 0x00888007
    ti = b""
    if scenario == "accept-ts":
        ti = struct.pack("<HH", 7, 8) + bytes(range(1, 9)) + b"\0" * 4
    while True:
        head = read_head(conn)
        if head is None:
            return
        with open(log, "ab") as f:
            f.write(b"# connection %d\n" % number + head)
        auth = b""
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"proxy-authorization: ntlm "):
                auth = base64.b64decode(line[26:])
        if not auth:
            answer_407(conn, b"NTLM")
        elif auth[8:12] == struct.pack("<I", 1):
            token = challenge(flags, ti)
            if scenario == "garbage":
                answer_407(conn, b"NTLM !!notbase64!!")
                continue
            answer_407(conn, b"NTLM " + base64.b64encode(token))
            if scenario == "close":
                conn.close()
                return
        elif scenario == "accept-ts":
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)
        else:
            answer_407(conn, b"NTLM")


def serve_and_close(conn, scenario, log):
    try:
        serve(conn, scenario, log)
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_and_close,
                         args=(conn, args.scenario, args.log),
                         daemon=True).start()


if __name__ == "__main__":
    main()
