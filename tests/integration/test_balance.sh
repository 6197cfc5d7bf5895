#!/usr/bin/env bash
# Connections spread evenly over the workers (issue 12, p99 at 80% load;
# lib/server/balance.c): a worker that holds more than another hands its new
# sockets over. Checked on estd_worker_connections (/metrics), one
# burst of connections (one worker's accept loop would take most of it) and
# then one at a time: the two counts never differ by more than two (two
# workers deciding at the same moment may both keep one). Handed sockets are served (an
# HTTP request on each, TLS included), and their slots come back when they
# close, also when an attacker opens and drops connections as fast as it can.
. "$(dirname "$0")/lib.sh"

init_demo
sed -i 's/^\[server\]$/[server]\nworkers = 2\nmetrics-listen = 127.0.0.1:0/' "$T/var/estd.conf"
start_estd
cd "$T"
metrics_port

python3 - "$TLS_PORT" "$HTTP_PORT" "$MPORT" "$TA" > balance.out 2>&1 <<'PY' || fail "$(tail -n 3 balance.out)"
import re, socket, ssl, sys, time, urllib.request
tls_port, http_port, mport, ta = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def gauges():
    text = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
    open_ = int(re.search(r"^estd_open_connections (\d+)$", text, re.M).group(1))
    workers = [int(n) for n in re.findall(r'^estd_worker_connections\{worker="\d+"\} (\d+)$', text, re.M)]
    return open_, workers

def wait_open(n):
    for _ in range(100):
        open_, workers = gauges()
        if open_ == n and sum(workers) == n:
            return workers
        time.sleep(0.05)
    sys.exit(f"open connections did not reach {n}: {gauges()}")

# A burst, as when a fleet or a load generator connects at once: one worker's
# accept loop would take most of it.
def connect(k):
    return socket.create_connection(("127.0.0.1", tls_port if k % 2 else http_port), 5)

socks = [connect(k) for k in range(32)]
workers = wait_open(32)
print("burst", workers)
if len(workers) != 2 or max(workers) - min(workers) > 2:
    sys.exit(f"after a burst of 32 connections the workers hold {workers}")
# Then one at a time.
for i in range(33, 49):
    socks.append(connect(len(socks)))
    workers = wait_open(i)
    if len(workers) != 2 or max(workers) - min(workers) > 2:
        sys.exit(f"after {i} connections the workers hold {workers}")
print("spread", workers)

# Every held socket is served, on whichever worker took it.
ctx = ssl.create_default_context(cafile=ta)
ctx.check_hostname = False
for i, s in enumerate(socks):
    if i % 2:
        s = ctx.wrap_socket(s, server_hostname="localhost")
    s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    reply = b""
    while (part := s.recv(65536)):
        reply += part
    if not reply.startswith(b"HTTP/1.1 200"):
        sys.exit(f"connection {i} answered {reply[:40]!r}")
    s.close()
wait_open(0)
print("served")

# An attacker's churn: connect and drop (some with a reset) a few hundred times.
for i in range(300):
    s = socket.create_connection(("127.0.0.1", tls_port), 5)
    if i % 3 == 0:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
workers = wait_open(0)
print("after churn", workers)
PY
grep -q '^spread ' balance.out || fail "not spread: $(cat balance.out)"
ok "a burst of 32 connections, then 16 one at a time, spread over two workers: $(grep '^burst' balance.out), then $(grep '^spread' balance.out)"
grep -q '^served' balance.out || fail "$(cat balance.out)"
ok "each of them is served (TLS and plain HTTP), and the counts go back to 0 when they close"
grep -q '^after churn \[0, 0\]' balance.out || fail "$(cat balance.out)"
ok "300 connections opened and dropped (a third reset) leave no connection counted"
finish
