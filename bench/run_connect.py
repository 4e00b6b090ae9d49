#!/usr/bin/python3
"""run_connect.py - connect latency as a program sees it, for bench/run's
run rows: N sequential TCP connections to an echo server by name, each
connect, one byte there and back, close.

    run_connect.py HOST PORT N [blocking]

With "blocking" the sockets have no timeout (a blocking connect());
without, a 20 s timeout, which Python implements with a non-blocking
socket and poll(), as most event loops do.  Prints "connect N MEAN_MS MEDIAN_MS" (milliseconds per connection, from
create_connection() to the echoed byte).  Run under `proxystack run` or
proxychains4 it measures what they add; run bare against 127.0.0.1, the
floor.
"""
import socket
import statistics
import sys
import time


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    timeout = None if sys.argv[4:5] == ["blocking"] else 20
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise SystemExit("no echo")
        times.append((time.perf_counter() - t0) * 1000)
    print("connect %d %.2f %.2f" % (n, statistics.mean(times),
                                    statistics.median(times)))


if __name__ == "__main__":
    main()
