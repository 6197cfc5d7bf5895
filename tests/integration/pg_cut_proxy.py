#!/usr/bin/env python3
"""A TCP proxy in front of PostgreSQL that loses the answer to one COMMIT.

Usage: pg_cut_proxy.py LISTEN_PORT PG_PORT TRIGGER_FILE

Relays every connection to 127.0.0.1:PG_PORT. It reads the frontend's
messages (protocol 3, no TLS: the URI says sslmode=disable): Parse tells
which prepared statement is COMMIT; when TRIGGER_FILE exists and a Bind of
that statement goes by, the file is removed, the COMMIT reaches the server,
and once the server has answered, both sides of that connection are closed
without the answer reaching the client. The commit is made; the client
cannot know it -- a connection dropped at the worst moment.
"""
import os
import socket
import struct
import sys
import threading
import time

LISTEN, PG, TRIGGER = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError
        buf += chunk
    return buf


def close(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def serve(client):
    server = socket.create_connection(("127.0.0.1", PG))
    cut = threading.Event()

    def backend():
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                if cut.is_set():
                    time.sleep(0.2)
                    break
                client.sendall(data)
        except OSError:
            pass
        close(client, server)

    threading.Thread(target=backend, daemon=True).start()
    commit = None
    try:
        length = struct.unpack("!I", read_exact(client, 4))[0]
        server.sendall(struct.pack("!I", length) + read_exact(client, length - 4))
        while True:
            kind = read_exact(client, 1)
            length = struct.unpack("!I", read_exact(client, 4))[0]
            body = read_exact(client, length - 4)
            if kind == b"P":
                name, query = body.split(b"\0")[:2]
                if query == b"COMMIT":
                    commit = name
            elif kind == b"B" and commit is not None and body.split(b"\0")[1] == commit \
                    and os.path.exists(TRIGGER):
                os.unlink(TRIGGER)
                cut.set()
            server.sendall(kind + struct.pack("!I", length) + body)
    except (ConnectionError, OSError):
        close(client, server)


def main():
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", LISTEN))
    lsock.listen(64)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
