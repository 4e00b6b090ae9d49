#!/usr/bin/python3
"""serve_peer.py - the client side of bench/run's local-proxy rows, the same
for proxystack serve and for cntlm.

    serve_peer.py tunnels PROXY_PORT ECHO_PORT N CONCURRENCY
        N tunnels, CONCURRENCY at a time: CONNECT to the echo server, a
        one-byte round trip, close.  Prints "tunnels N MS RATE_PER_S".
    serve_peer.py idle PROXY_PORT ECHO_PORT N PID
        One tunnel first (the proxy's once-per-process costs), then N more
        held open, each proven by a one-byte round trip; VmRSS of PID
        before and after.  Prints "idle N KIB_PER_TUNNEL MS".
Standard library only; run it with /usr/bin/python3.
"""

import socket
import sys
import threading
import time


def tunnel(proxy, echo):
    s = socket.create_connection(("127.0.0.1", proxy), timeout=30)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
              % (echo, echo))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise OSError("closed before the answer")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200") and not head.startswith(b"HTTP/1.0 200"):
        raise OSError(head.split(b"\r\n")[0].decode("latin-1"))
    s.sendall(b"x")
    if s.recv(1) != b"x":
        raise OSError("no echo")
    return s


def tunnels(proxy, echo, n, conc):
    left = [n]
    lock = threading.Lock()
    failed = []

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                tunnel(proxy, echo).close()
            except OSError as e:
                failed.append(str(e))

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = (time.monotonic() - start) * 1000
    if failed:
        print("failed", len(failed), failed[0])
        sys.exit(1)
    print("tunnels", n, "%.0f" % ms, "%.0f" % (n * 1000 / ms))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(proxy, echo, n, pid):
    first = tunnel(proxy, echo)
    time.sleep(0.2)
    before = rss_kib(pid)
    start = time.monotonic()
    held = [tunnel(proxy, echo) for _ in range(n)]
    ms = (time.monotonic() - start) * 1000
    time.sleep(0.5)
    after = rss_kib(pid)
    print("idle", n, "%.1f" % ((after - before) / n), "%.0f" % ms)
    for s in held + [first]:
        s.close()


def main():
    mode = sys.argv[1]
    args = [int(a) for a in sys.argv[2:]]
    if mode == "tunnels":
        tunnels(*args)
    elif mode == "idle":
        idle(*args)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
