#!/usr/bin/env python3
"""Hostile clients against an estd on 127.0.0.1, for test_hostile.sh and make soak.

  hostile.py flood PID HTTP_PORT TLS_PORT CAFILE SECONDS CONNS
      CONNS connections (half plain, half TLS) pipeline GET /cacerts 2,000 per
      write and never read, for SECONDS. Meanwhile a fresh client fetches
      /cacerts every half second. Prints max_rss_kib, worst_fresh_ms, fresh_ok,
      fresh_failed.
  hostile.py idle PID PORT HTTP_PORT SOCKETS [SOURCE]
      SOCKETS idle connections from SOURCE (default 127.0.0.1) to PORT (to a TLS port: TCP only,
      they stay in the handshake), then one client from 127.0.0.2 fetches
      /cacerts from HTTP_PORT. Prints opened, estd_fds, fresh_ms, fresh_status.

  hostile.py slow PORT SECONDS CONNS
      CONNS slow clients from 127.0.0.4, each trickling a request head one
      byte a second (slow-loris) and reconnecting when estd closes it, for
      SECONDS. Prints slow_closed (how often estd cut one off).

  hostile.py linger PORT SECONDS
      From 127.0.0.6, a request estd refuses (413: a body over max-body), then
      one byte every half second after the answer, for at most SECONDS: a
      closing connection that never closes would hold its slot. Prints
      linger_closed_after (seconds after the answer, or "never").

  hostile.py ocspjunk PORT COUNT
      From 127.0.0.7, one connection pipelining COUNT malformed OCSP GET
      requests (answered 200 with malformedRequest, which the access log's
      limits on refusals do not cover), reading every answer. Prints
      answered and seconds.

  hostile.py exhaust PID PORT SOCKETS SECONDS
      SOCKETS connections to PORT from 127.0.0.8 up (60 per address), held
      open without a byte for SECONDS, meant to outnumber estd's descriptors;
      then all closed and one client from 127.0.0.2 fetches /cacerts. Prints
      estd's cpu_seconds while they were held, and fresh_status.

  hostile.py churn PORT COUNT
      COUNT new connections from 127.0.0.5, one after the other, each sending
      one request for an unknown path (404), reading the answer and closing.
      Prints answered and seconds.

Everything talks to 127.0.0.0/8 only, and is bounded in count and time.
"""
import os
import socket
import ssl
import sys
import threading
import time

REQ = b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fetch(port, source="127.0.0.1", timeout=5.0):
    """One GET /cacerts on a new plain connection; (status, milliseconds)."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    try:
        s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    ms = (time.monotonic() - start) * 1000
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, ms


def flooder(port, cafile, tls, stop):
    burst = REQ * 2000
    while not stop.is_set():
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=1.0)
            s = raw
            if tls:
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.check_hostname = False
                s = ctx.wrap_socket(raw)
            while not stop.is_set():
                try:
                    s.sendall(burst)
                except (socket.timeout, TimeoutError):
                    continue  # estd stopped reading: that is the point
        except (OSError, ssl.SSLError):
            time.sleep(0.05)  # estd closed us (idle-timeout): come again


def flood(pid, http_port, tls_port, cafile, seconds, conns):
    stop = threading.Event()
    threads = []
    for i in range(conns):
        tls = i % 2 == 1
        t = threading.Thread(target=flooder, daemon=True,
                             args=(tls_port if tls else http_port, cafile, tls, stop))
        t.start()
        threads.append(t)
    end = time.monotonic() + seconds
    max_rss, worst, ok, failed = 0, 0.0, 0, 0
    while time.monotonic() < end:
        max_rss = max(max_rss, rss_kib(pid))
        try:
            status, ms = fetch(http_port)
            if status == 200:
                ok += 1
                worst = max(worst, ms)
            else:
                failed += 1
        except OSError:
            failed += 1
        time.sleep(0.5)
    max_rss = max(max_rss, rss_kib(pid))
    stop.set()
    print(f"max_rss_kib {max_rss}")
    print(f"worst_fresh_ms {worst:.0f}")
    print(f"fresh_ok {ok}")
    print(f"fresh_failed {failed}")
    print(f"estd_fds {fd_count(pid)}")
    sys.stdout.flush()
    os._exit(0)  # flooders blocked in sendall need not be joined


def idle(pid, port, http_port, sockets, source):
    held = []
    for _ in range(sockets):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=2.0,
                                                 source_address=(source, 0)))
        except OSError:
            break
    time.sleep(0.5)  # let estd accept (or refuse) them all
    fds = fd_count(pid)
    try:
        status, ms = fetch(http_port, source="127.0.0.2")
    except OSError:
        status, ms = 0, 99999.0
    print(f"opened {len(held)}")
    print(f"estd_fds {fds}")
    print(f"fresh_ms {ms:.0f}")
    print(f"fresh_status {status}")
    for s in held:
        s.close()


def slow_client(port, end, counts):
    head = b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2.0,
                                         source_address=("127.0.0.4", 0))
            for i in range(len(head)):
                if time.monotonic() >= end:
                    break
                s.sendall(head[i:i + 1])
                time.sleep(1.0)
            s.close()
        except OSError:
            counts[0] += 1
            time.sleep(0.2)


def slow(port, seconds, conns):
    end = time.monotonic() + seconds
    counts = [0]
    threads = [threading.Thread(target=slow_client, args=(port, end, counts), daemon=True)
               for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 10)
    print(f"slow_closed {counts[0]}")


def linger(port, seconds):
    s = socket.create_connection(("127.0.0.1", port), timeout=5.0,
                                 source_address=("127.0.0.6", 0))
    s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: 999999999\r\n\r\n")
    answer = s.recv(4096)
    if not answer.startswith(b"HTTP/1.1 413"):
        sys.exit(f"expected a 413, got {answer[:40]!r}")
    # Our side reads EOF at once (estd shut its side); that it closed its
    # socket shows as a reset on a later send.
    start = time.monotonic()
    closed = "never"
    while time.monotonic() - start < seconds:
        try:
            s.sendall(b"x")
        except OSError:
            closed = f"{time.monotonic() - start:.1f}"
            break
        time.sleep(0.5)
    s.close()
    print(f"linger_closed_after {closed}")


def ocspjunk(port, count):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=("127.0.0.7", 0)) as s:
        s.sendall(b"GET /ocsp/A HTTP/1.1\r\nHost: x\r\n\r\n" * count)
        data = b""
        while data.count(b"HTTP/1.1 200") < count:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    print(f"answered {data.count(b'HTTP/1.1 200')}")
    print(f"seconds {time.monotonic() - start:.2f}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exhaust(pid, port, sockets, seconds):
    held = []
    for i in range(sockets):
        try:
            held.append(socket.create_connection(
                ("127.0.0.1", port), timeout=2.0, source_address=(f"127.0.0.{8 + i // 60}", 0)))
        except OSError:
            pass
    before = cpu_seconds(pid)
    time.sleep(seconds)
    spent = cpu_seconds(pid) - before
    for s in held:
        s.close()
    time.sleep(0.5)
    status = 0
    for _ in range(10):
        status = fetch(port, "127.0.0.2")[0]
        if status == 200:
            break
        time.sleep(0.3)
    print(f"cpu_seconds {spent:.2f}")
    print(f"fresh_status {status}")


def churn(port, count):
    start, answered = time.monotonic(), 0
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5,
                                      source_address=("127.0.0.5", 0)) as s:
            s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
            if s.recv(4096).startswith(b"HTTP/1.1 404"):
                answered += 1
    print(f"answered {answered}")
    print(f"seconds {time.monotonic() - start:.2f}")


def main():
    cmd = sys.argv[1]
    if cmd == "flood":
        pid, hp, tp, ca, secs, conns = sys.argv[2:8]
        flood(int(pid), int(hp), int(tp), ca, float(secs), int(conns))
    elif cmd == "idle":
        pid, port, hp, n = sys.argv[2:6]
        idle(int(pid), int(port), int(hp), int(n),
             sys.argv[6] if len(sys.argv) > 6 else "127.0.0.1")
    elif cmd == "linger":
        linger(int(sys.argv[2]), float(sys.argv[3]))
    elif cmd == "ocspjunk":
        ocspjunk(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "exhaust":
        exhaust(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "churn":
        churn(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "slow":
        port, secs, conns = sys.argv[2:5]
        slow(int(port), float(secs), int(conns))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
