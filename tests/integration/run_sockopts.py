#!/usr/bin/python3
"""run_sockopts.py - the socket options a program sets before connect(),
as they read on the connected socket (t_run_epoll.sh, under proxystack run).

    run_sockopts.py HOST PORT 4|6

For a blocking and a non-blocking (timeout) socket of that family, sets
SO_KEEPALIVE, TCP_NODELAY, TCP_KEEPIDLE 77, TCP_USER_TIMEOUT 4321,
SO_RCVBUF 32768 and the traffic class 0x20 (IP_TOS, or IPV6_TCLASS), an
IPv4 socket also bind()s, then connects to HOST's address of that family,
echoes one byte and prints one line per socket:

    TIMEOUT keepalive K nodelay N keepidle I usertimeout U rcvbuf R tos T bound B

tos is read as IP_TOS: an IPv6 socket replaced by an IPv4 one answers
it.  bound is whether the bind()'s port is the local port (- for IPv6:
not bound).  IPv4 adds "default nodelay N" for a socket with no option.
"""
import socket
import sys

host, port, family = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET if family == "4" else socket.AF_INET6
addr = socket.getaddrinfo(host, port, fam, socket.SOCK_STREAM)[0][4]
for timeout in (None, 20):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 77)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 4321)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
    bound = "-"
    if fam == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x20)
        s.bind(("127.0.0.1", 0))
        bound = s.getsockname()[1]
    else:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, 0x20)
    s.settimeout(timeout)
    s.connect(addr)
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    if bound != "-":
        bound = s.getsockname()[1] == bound
    print(timeout, "keepalive", s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
          "nodelay", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
          "keepidle", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
          "usertimeout", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
          "rcvbuf", s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
          "tos", s.getsockopt(socket.IPPROTO_IP, socket.IP_TOS),
          "bound", bound)
    s.close()
if fam == socket.AF_INET:
    s = socket.socket()
    s.connect(addr)
    print("default nodelay", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
