#!/usr/bin/env python3
"""The course's web server, written the lab's way, as a baseline for scripts/bench/serve_gpio.sh.

One thread: accept a connection, recv the request, send an HTTP/1.0 response with the page,
close. Usage: lab_server.py PAGE_FILE [PORT]; prints `listening on 127.0.0.1:PORT` when ready
(PORT 0, the default, picks a free port).
"""

import socket
import sys

# A deeper backlog than the lab's listen(1), so wrk's 50 connections are queued, not dropped.
BACKLOG = 128
RECV_BYTES = 1024


def main():
    with open(sys.argv[1], "rb") as f:
        page = f.read()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    head = b"HTTP/1.0 200 OK\r\nContent-type: text/html\r\n\r\n"
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(BACKLOG)
    print("listening on 127.0.0.1:%d" % s.getsockname()[1], file=sys.stderr, flush=True)
    while True:
        conn, _addr = s.accept()
        try:
            conn.recv(RECV_BYTES)
            conn.send(head)
            conn.sendall(page)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
