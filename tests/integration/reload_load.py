"""Load for test_reload.sh: enrolments over fresh TLS connections and
/cacerts over one kept-alive connection, against 127.0.0.1 only, for a
bounded time. A reused keep-alive connection that the server closed before
answering is retried on a new one (RFC 9112 §9.3.1, as curl does); any other
error or a status other than 200 counts as lost. Prints "sent N lost M" and
the first few losses.

    reload_load.py PORT CA CSR SECONDS THREADS
"""
import base64
import socket
import ssl
import sys
import threading
import time

port, ca, csr_path, seconds, threads = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                        float(sys.argv[4]), int(sys.argv[5]))
csr = open(csr_path, "rb").read()
auth = base64.b64encode(b"estuser:estpwd").decode()
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
lock = threading.Lock()
stats = {"sent": 0, "lost": 0, "why": []}


def note(ok, why=""):
    with lock:
        stats["sent"] += 1
        if not ok:
            stats["lost"] += 1
            if len(stats["why"]) < 5:
                stats["why"].append(why)


def read_answer(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return None
        body += chunk
    close = b"connection: close" in head.lower()
    return int(head.split(b" ")[1]), close


def enroller(deadline):
    req = ("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/pkcs10\r\nAuthorization: Basic %s\r\n"
           "Content-Length: %d\r\n\r\n" % (auth, len(csr))).encode() + csr
    while time.time() < deadline:
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 10)) as s:
                s.settimeout(20)
                s.sendall(req)
                ans = read_answer(s)
            if ans is None:
                note(False, "enrol: closed without an answer")
            else:
                note(ans[0] == 200, "enrol: status %d" % ans[0])
        except Exception as e:  # noqa: BLE001 - every failure is a lost request
            note(False, "enrol: %r" % e)


def keepalive(deadline):
    req = b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n"
    s = None
    while time.time() < deadline:
        reused = s is not None
        try:
            if s is None:
                s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 10))
                s.settimeout(20)
            s.sendall(req)
            ans = read_answer(s)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            ans = None
            if not reused:
                note(False, "cacerts: %r" % e)
                s = None
                continue
        if ans is None:
            s = None
            if not reused:
                note(False, "cacerts: closed without an answer")
            continue  # a kept-alive connection closed by the server: retry
        note(ans[0] == 200, "cacerts: status %d" % ans[0])
        if ans[1]:
            s.close()
            s = None
        time.sleep(0.01)


deadline = time.time() + seconds
workers = [threading.Thread(target=enroller, args=(deadline,)) for _ in range(threads)]
workers.append(threading.Thread(target=keepalive, args=(deadline,)))
for w in workers:
    w.start()
for w in workers:
    w.join()
print("sent %d lost %d" % (stats["sent"], stats["lost"]))
for why in stats["why"]:
    print(why)
