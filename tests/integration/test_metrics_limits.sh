#!/usr/bin/env bash
# The metrics listener's own limits (docs/metrics.md): at most 8 connections
# (more are closed at once), each closed 10 s after it opened whatever the
# client does. Held full, it costs the EST listeners nothing; freed, it
# serves again. estd stops cleanly with a metrics connection open.
. "$(dirname "$0")/lib.sh"

init_demo
sed -i -e 's/^log-level = info/log-level = info\nmetrics-listen = 127.0.0.1:0/' "$T/var/estd.conf"
start_estd
cd "$T"
metrics_port
PK=(-H 'Content-Type: application/pkcs10')
expect_status 200 "GET /metrics" "$M"

# 16 connections: 8 kept, 8 closed at once.
mkcsr full
python3 - "$MPORT" > hold.out 2>&1 <<'PY' &
import os, socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5) for _ in range(8 + 8)]
time.sleep(0.5)
open_, closed = [], 0
for s in socks:
    s.settimeout(0.2)
    try:
        if s.recv(1) == b"":
            closed += 1
            continue
    except socket.timeout:
        open_.append(s)
        continue
    except ConnectionResetError:
        closed += 1
        continue
print(f"open={len(open_)} closed={closed}", flush=True)
for _ in range(200):
    if os.path.exists("release"):
        break
    time.sleep(0.05)
for s in open_:
    s.close()
print("released", flush=True)
PY
holder=$!
for _ in $(seq 100); do grep -q open= hold.out 2>/dev/null && break; sleep 0.1; done
grep_all '^open=8 closed=8$' hold.out || fail "16 connections to the metrics listener: $(cat hold.out)"
ok "the metrics listener keeps 8 connections and closes the 8 beyond at once"
got=$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$M" || true)
[ "$got" != 200 ] || fail "a 9th connection to the full metrics listener was served"
grep_all 'metrics: closed a new connection from 127.0.0.1: 8 open' estd.log || fail "the refusals are not logged"
status=$(curl -s -o full.p7 -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
    --data-binary @full.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "enrolment while the metrics listener is full gave $status"
expect_status 200 "cacerts on plain HTTP while the metrics listener is full" \
    "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts"
ok "while the metrics listener is full: EST enrols (200), new scrapes are refused ($got)"
touch release
wait "$holder" || fail "the holder of the metrics connections failed: $(cat hold.out)"
grep_all released hold.out || fail "the metrics connections were not released"
for _ in $(seq 20); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$M" || true)" = 200 ] && break
	sleep 0.1
done
curl -s -f -o metrics.txt "$M" || fail "GET /metrics failed after the held connections closed"
grep_all '^estd_open_connections ' metrics.txt || fail "no metrics after the held connections closed"
ok "the held connections closed, /metrics answers again"
# An idle connection (no byte sent) and a slow one (a byte a second) are
# closed by estd 10 s after they opened.
python3 - "$MPORT" > idle.out 2>&1 <<'PY'
import socket, sys, threading, time
def hold(kind, out):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
    t0 = time.monotonic()
    s.settimeout(1.0)
    while time.monotonic() - t0 < 20:
        try:
            if s.recv(1) == b"":
                break
        except socket.timeout:
            if kind == "slow":
                try:
                    s.send(b"G")
                except OSError:
                    break
        except OSError:
            break
    out[kind] = time.monotonic() - t0
out = {}
ts = [threading.Thread(target=hold, args=(k, out)) for k in ("idle", "slow")]
for t in ts: t.start()
for t in ts: t.join()
print(" ".join(f"{k}={out[k]:.0f}" for k in ("idle", "slow")))
PY
read -r idle slow < idle.out
for v in "${idle#idle=}" "${slow#slow=}"; do
	[ "$v" -ge 9 ] && [ "$v" -le 12 ] || fail "metrics connections closed after: $(cat idle.out) s (want 10)"
done
ok "idle and slow metrics connections are closed 10 s after they opened ($(cat idle.out))"

# The request head is parsed as on the EST listeners (http_parse.c).
python3 - "$MPORT" > heads.out 2>&1 <<'PY'
import socket, sys
heads = [
    ("200", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("400", b"NOT A REQUEST\r\n\r\n"),
    ("400", b"GET http://x/metrics HTTP/1.1\r\n\r\n"),
    ("505", b"GET /metrics HTTP/2.0\r\n\r\n"),
    ("501", b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ("413", b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
    ("431", b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"),
]
for want, head in heads:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
    s.settimeout(5)
    try:
        s.sendall(head)
    except OSError:
        pass
    got = b""
    try:
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    status = got.split(b" ")[1].decode() if got.startswith(b"HTTP/1.1 ") else "none"
    print(f"{want}:{status}")
    s.close()
PY
bad=$(awk -F: '$1 != $2' heads.out)
[ -z "$bad" ] || fail "metrics listener, want:got $(tr '\n' ' ' < heads.out)"
ok "the metrics listener's heads: 200, 400 twice, 505, 501, 413, 431 as on the EST listeners"

# estd stops cleanly with a metrics connection open.
python3 - "$MPORT" > last.out 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
print("open", flush=True)
time.sleep(5)
PY
for _ in $(seq 50); do grep -q open last.out 2>/dev/null && break; sleep 0.1; done
finish
