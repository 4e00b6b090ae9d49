#!/usr/bin/python3
"""socks_script.py - a SOCKS4/SOCKS5 proxy that answers from a script.

Each connection's handshake is parsed and logged (so tests can assert
what the client sent: the methods offered, the user, the address type and
address of the request), then the scenario named on the command line
decides the answer.  A granted request is followed by an echo of whatever
the client sends, so a tcp:// channel through it round-trips data
without any destination.

    socks_script.py --port P (--scenario NAME | --scenario-file F)
                    [--log FILE] [--user U --password PW]

--scenario-file names a file read at each connection: one process plays
every scenario of a test script, one after the other.

Scenarios (SOCKS5 unless said):
  ok            grant (user/password checked when --user is given)
  reply-XX      answer the CONNECT with reply code XX (hex, e.g. 05)
  no-method     answer the greeting with 0xFF (no acceptable method)
  wrong-method  choose method 0x02 although it was not offered
  method-ver    answer the greeting with version 0x04
  auth-ver      answer the user/password message with version 0x05
  reply-ver     answer the CONNECT with version 0x04
  reply-atyp    answer the CONNECT with address type 0x07
  reply-short   send 5 bytes of a 10-byte reply, then close
  reply-long    claim a 200-byte bound name, send 10 bytes, close
  close-greet   close right after reading the greeting
  close-mid     send one byte of the reply, then close
  random-N      answer the greeting and the CONNECT with bytes drawn
                from a generator seeded with N (often almost right:
                version 5, reply 0, a real address type), then close
  s4-ok         SOCKS4: grant
  s4-XX         SOCKS4: answer with code XX (hex: 5b, 5c, 5d, 77)
  s4-ver        SOCKS4: answer with version 0x04 (0x00 is due)
"""
import argparse
import random
import socket
import sys
import threading


def log(args, line):
    print(line, file=sys.stderr, flush=True)
    if args.log:
        with open(args.log, "a") as f:
            f.write(line + "\n")


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("client closed after %d of %d bytes"
                           % (len(data), n))
        data += chunk
    return data


def recv_until_nul(conn):
    data = b""
    while not data.endswith(b"\0"):
        data += recv_exact(conn, 1)
    return data[:-1]


def echo(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


BOUND_V4 = bytes([0x01, 127, 0, 0, 1, 0x04, 0x38])


def read_socks5_request(args, conn):
    ver, cmd, _rsv, atyp = recv_exact(conn, 4)
    if atyp == 0x01:
        addr = socket.inet_ntop(socket.AF_INET, recv_exact(conn, 4))
    elif atyp == 0x04:
        addr = socket.inet_ntop(socket.AF_INET6, recv_exact(conn, 16))
    elif atyp == 0x03:
        addr = recv_exact(conn, recv_exact(conn, 1)[0]).decode()
    else:
        addr = "?"
    port = int.from_bytes(recv_exact(conn, 2), "big")
    log(args, "request ver=%d cmd=%d atyp=%d addr=%s port=%d"
        % (ver, cmd, atyp, addr, port))


def socks5_auth(args, conn, sc):
    """The user/password exchange; False when it ended the connection."""
    ver, ulen = recv_exact(conn, 2)
    user = recv_exact(conn, ulen).decode()
    password = recv_exact(conn, recv_exact(conn, 1)[0]).decode()
    good = user == args.user and password == args.password
    log(args, "auth ver=%d user=%s good=%d" % (ver, user, good))
    if sc == "auth-ver":
        conn.sendall(b"\x05\x00")
        return False
    conn.sendall(b"\x01\x00" if good else b"\x01\x01")
    return good


def almost(rng, right, p=0.7):
    """The right byte with probability p, else any byte."""
    return right if rng.random() < p else rng.randrange(256)


def random_answers(args, conn, seed):
    rng = random.Random(seed)
    method = bytes([almost(rng, 5, 0.9), almost(rng, 0, 0.9)])
    conn.sendall(method)
    if method != b"\x05\x00":
        return
    read_socks5_request(args, conn)
    head = bytes([almost(rng, 5), almost(rng, 0), almost(rng, 0),
                  rng.choice([1, 3, 4, rng.randrange(256)])])
    tail = bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    conn.sendall(head + tail)


def socks5(args, conn, sc):
    nmethods = recv_exact(conn, 1)[0]
    methods = recv_exact(conn, nmethods)
    log(args, "greeting methods=%s" % methods.hex())
    if sc.startswith("random-"):
        random_answers(args, conn, int(sc[7:]))
        return
    if sc == "close-greet":
        return
    if sc == "no-method":
        conn.sendall(b"\x05\xff")
        return
    if sc == "wrong-method":
        conn.sendall(b"\x05\x02")
        return
    if sc == "method-ver":
        conn.sendall(b"\x04\x00")
        return
    if args.user:
        if 2 not in methods:
            conn.sendall(b"\x05\xff")
            return
        conn.sendall(b"\x05\x02")
        if not socks5_auth(args, conn, sc):
            return
    else:
        conn.sendall(b"\x05\x00")
    read_socks5_request(args, conn)
    if sc.startswith("reply-") and len(sc) == 8:
        code = int(sc[6:], 16)
        conn.sendall(bytes([5, code, 0]) + BOUND_V4)
        return
    answers = {
        "reply-ver": b"\x04\x00\x00" + BOUND_V4,
        "reply-atyp": b"\x05\x00\x00\x07" + BOUND_V4[1:],
        "reply-short": (b"\x05\x00\x00" + BOUND_V4)[:5],
        "reply-long": b"\x05\x00\x00\x03\xc8" + b"x" * 10,
        "close-mid": b"\x05",
    }
    if sc in answers:
        conn.sendall(answers[sc])
        return
    # A granted CONNECT; the bound address is a name once in a while.
    conn.sendall(b"\x05\x00\x00\x03\x09bound.tst\x04\x38")
    echo(conn)


def socks4(args, conn, sc):
    cmd = recv_exact(conn, 1)[0]
    port = int.from_bytes(recv_exact(conn, 2), "big")
    ip = socket.inet_ntop(socket.AF_INET, recv_exact(conn, 4))
    user = recv_until_nul(conn).decode()
    name = ""
    if ip.startswith("0.0.0.") and ip != "0.0.0.0":
        name = recv_until_nul(conn).decode()
    log(args, "request4 cmd=%d ip=%s port=%d user=%s name=%s"
        % (cmd, ip, port, user, name))
    if sc == "s4-ver":
        conn.sendall(b"\x04\x5a" + b"\0" * 6)
        return
    if sc.startswith("s4-") and sc != "s4-ok":
        conn.sendall(bytes([0, int(sc[3:], 16)]) + b"\0" * 6)
        return
    conn.sendall(b"\x00\x5a" + b"\0" * 6)
    echo(conn)


def scenario_now(args):
    if args.scenario_file:
        with open(args.scenario_file) as f:
            return f.read().strip()
    return args.scenario


def serve(args, conn):
    try:
        with conn:
            sc = scenario_now(args)
            first = recv_exact(conn, 1)[0]
            if first == 5:
                socks5(args, conn, sc)
            elif first == 4:
                socks4(args, conn, sc)
            else:
                log(args, "not socks: first byte 0x%02x" % first)
    except (OSError, EOFError, UnicodeDecodeError) as e:
        log(args, "connection: %s" % e)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--scenario", default="ok")
    p.add_argument("--scenario-file")
    p.add_argument("--log")
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(args, conn), daemon=True).start()


if __name__ == "__main__":
    main()
