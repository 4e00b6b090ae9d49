#!/usr/bin/python3
"""serve_load.py - many clients' requests through proxystack serve.

    serve_load.py PROXY_PORT URL CLIENTS REQUESTS [--mark FILE]

CLIENTS threads each fetch URL REQUESTS times through the HTTP proxy at
127.0.0.1:PROXY_PORT (urllib, a CONNECT tunnel for https:, absolute form
for http:).  Once a third of all requests are done it creates --mark FILE
(the test reloads serve then).  Prints "requests N failed M" and the
first failures; exits 1 if any failed.
"""

import sys
import threading
import urllib.request


def main():
    port, url = int(sys.argv[1]), sys.argv[2]
    clients, per = int(sys.argv[3]), int(sys.argv[4])
    mark = sys.argv[6] if len(sys.argv) > 6 and sys.argv[5] == "--mark" else None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(
        {"http": "http://127.0.0.1:%d" % port,
         "https": "http://127.0.0.1:%d" % port}))
    lock = threading.Lock()
    state = {"done": 0, "failed": [], "marked": False}

    def client():
        for _ in range(per):
            try:
                body = opener.open(url, timeout=20).read()
                ok = body == b"hello from origin\n"
                why = "unexpected body %r" % body[:40]
            except Exception as e:  # every failure counts
                ok, why = False, repr(e)
            with lock:
                state["done"] += 1
                if not ok:
                    state["failed"].append(why)
                if mark and not state["marked"] and \
                        state["done"] * 3 >= clients * per:
                    open(mark, "w").close()
                    state["marked"] = True

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("requests", state["done"], "failed", len(state["failed"]))
    for why in state["failed"][:5]:
        print("  ", why)
    sys.exit(1 if state["failed"] else 0)


if __name__ == "__main__":
    main()
