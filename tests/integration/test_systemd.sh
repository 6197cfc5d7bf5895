#!/usr/bin/env bash
# estd as a systemd service (issue 14, point 2): READY=1 over $NOTIFY_SOCKET
# once every listener accepts, and not for a configuration that fails;
# SIGTERM drains: requests in flight are answered (Connection: close), idle
# keep-alive connections do not hold the exit up, a stalled request is cut
# at drain-timeout; the installed unit passes `systemd-analyze verify`
# (skipped when systemd-analyze is missing).
. "$(dirname "$0")/lib.sh"

# notify_listen: a datagram socket at $T/notify.sock; every message is appended to $T/notify.log.
notify_listen() {
	rm -f "$T/notify.sock" "$T/notify.log"
	python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    data = s.recv(65536)
    with open(sys.argv[2], "ab") as f:
        f.write(data + b"\n")
PY
	for _ in $(seq 50); do [ -S "$T/notify.sock" ] && return 0; sleep 0.1; done
	fail "notify listener did not start"
}

wait_for_line() {
	local file=$1 line=$2
	for _ in $(seq 100); do
		[ -f "$file" ] && grep -qx "$line" "$file" && return 0
		sleep 0.1
	done
	return 1
}

init_demo
cd "$T"
sed -i 's/^log-level = info/log-level = info\ndrain-timeout = 3\nidle-timeout = 60\nread-timeout = 60/' var/estd.conf

# --- READY=1 once every listener accepts ----------------------------------
notify_listen
NOTIFY_SOCKET="$T/notify.sock" "$ESTD" -c var/estd.conf --ready-file "$T/ready" >>"$T/estd.log" 2>&1 &
ESTD_PID=$!
wait_for_line "$T/notify.log" "READY=1" || fail "no READY=1 from estd: $(cat "$T/notify.log" 2>/dev/null)"
grep -q "^MAINPID=\|^READY=1" "$T/notify.log"
HTTP_PORT=$(awk '$1=="http"{print $2}' "$T/ready")
TLS_PORT=$(awk '$1=="tls"{print $2}' "$T/ready")
MTLS_PORT=$(awk '$1=="mtls"{print $2}' "$T/ready")
for p in "$HTTP_PORT" "$TLS_PORT" "$MTLS_PORT"; do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$p" ||
		fail "port $p does not accept after READY=1"
done
expect_status 200 "cacerts right after READY=1" "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts"
ok "READY=1 arrives once every listener accepts"

# --- SIGTERM drains ----------------------------------------------------------
mkcsr drain
len=$(wc -c < drain.b64)
# A request in flight: head and half the body sent, the rest after SIGTERM.
# An idle keep-alive connection: one request answered, then silence.
python3 - "$TLS_PORT" "$ESTD_PID" "$TA" drain.b64 > drain.out 2>&1 <<'PY' &
import os, signal, socket, ssl, sys, time
port, pid, ca, csr = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "rb").read()
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
def conn():
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 5))
def read_answer(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
def read_one(s):
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(65536)
idle = conn()
idle.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
read_one(idle)
busy = conn()
head = ("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/pkcs10\r\nAuthorization: Basic ZXN0dXNlcjplc3Rwd2Q=\r\n"
        "Content-Length: %d\r\n\r\n" % len(csr)).encode()
busy.sendall(head + csr[: len(csr) // 2])
time.sleep(0.3)
os.kill(pid, signal.SIGTERM)
time.sleep(0.5)
busy.sendall(csr[len(csr) // 2 :])
answer = read_answer(busy)
print(answer.split(b"\r\n")[0].decode())
print("close" if b"\r\nConnection: close\r\n" in answer else "keep-alive")
print("idle closed" if read_answer(idle) == b"" else "idle answered")
PY
client=$!
wait "$client" || fail "drain client failed: $(cat drain.out)"
rc=0
start=$(date +%s)
wait "$ESTD_PID" || rc=$?
ESTD_PID=
[ "$rc" = 0 ] || fail "estd exited $rc after SIGTERM"
[ "$(sed -n 1p drain.out)" = "HTTP/1.1 200 OK" ] || fail "request in flight at SIGTERM: $(cat drain.out)"
[ "$(sed -n 2p drain.out)" = "close" ] || fail "answer during a drain kept the connection alive"
[ "$(sed -n 3p drain.out)" = "idle closed" ] || fail "idle connection: $(sed -n 3p drain.out)"
grep -q 'SIGTERM: stopping' "$T/estd.log" || fail "no stop logged"
grep -q 'drained$' "$T/estd.log" || fail "drain did not complete cleanly: $(tail -n 3 "$T/estd.log")"
wait_for_line "$T/notify.log" "STOPPING=1" || fail "no STOPPING=1"
"$ESTADM" -c var/estd.conf cert list | grep_all 'CN=drain' || fail "the certificate of the drained request is not on record"
ok "SIGTERM: the request in flight is answered (Connection: close), idle keep-alive closed, STOPPING=1"

# A stalled request does not hold the exit up past drain-timeout (3 s here).
start_estd
python3 - "$TLS_PORT" "$TA" > stall.out 2>&1 <<'PY' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5))
s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
print("sent", flush=True)
time.sleep(30)
PY
staller=$!
wait_for_line stall.out sent || fail "the stalling client did not connect: $(cat stall.out)"
sleep 0.3
t0=$(date +%s.%N)
kill -TERM "$ESTD_PID"
rc=0
wait "$ESTD_PID" || rc=$?
ESTD_PID=
t1=$(date +%s.%N)
kill "$staller" 2>/dev/null || true
wait "$staller" 2>/dev/null || true
[ "$rc" = 0 ] || fail "estd exited $rc after a drain-timeout"
took=$(python3 -c "print(round($t1 - $t0, 1))")
python3 -c "import sys; sys.exit(0 if 2.5 <= $took <= 20 else 1)" || fail "estd took $took s to stop with drain-timeout = 3"
grep -q 'drain-timeout (3 s) passed; closing 1 connection' "$T/estd.log" || fail "the cut connection is not logged"
ok "a stalled request is cut at drain-timeout (stopped after $took s)"

# --- A configuration that fails sends no READY=1 -----------------------------
notify_listen
sed 's/^certificate = tls.pem/certificate = missing.pem/' var/estd.conf > bad.conf
rc=0
NOTIFY_SOCKET="$T/notify.sock" timeout 20 "$ESTD" -c bad.conf > bad.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "estd with a missing certificate exited $rc"
sleep 0.3
! grep -q READY=1 "$T/notify.log" 2>/dev/null || fail "READY=1 sent for a configuration that failed"
ok "a failing start exits 1 without READY=1"

# --- The unit ------------------------------------------------------------------
# The operator tunes estd.conf from what the unit's comments name: each key there exists.
src_unit="$ESTKIT_SRC/dist/estd.service.in"
for key in $(grep '^#' "$src_unit" | grep -oE '\b[a-z]+-timeout\b' | sort -u); do
	grep -q "^| \`$key\` |" "$ESTKIT_SRC/docs/configuration.md" ||
	    fail "estd.service names $key, which is no estd.conf key"
done
stop_s=$(sed -n 's/^TimeoutStopSec=//p' "$src_unit")
drain_s=$(sed -n 's/^| `drain-timeout` | `\([0-9]*\)` .*/\1/p' "$ESTKIT_SRC/docs/configuration.md")
[ "$stop_s" -gt "$drain_s" ] || fail "TimeoutStopSec=$stop_s does not leave drain-timeout ($drain_s s) to finish"
# ProtectSystem=strict leaves crl-file (for a web server) unwritable outside the state directory.
grep -q '^# .*ReadWritePaths=' "$src_unit" || fail "estd.service does not say how to let estd write crl-file elsewhere"
ok "the unit's comments name real estd.conf keys and ReadWritePaths, and TimeoutStopSec outlasts drain-timeout"
if ! command -v systemd-analyze >/dev/null; then
	echo "systemd-analyze not available: unit verification skipped"
	finish
	exit 0
fi
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$ESTKIT_BIN/CMakeCache.txt")
D="$T/root"
DESTDIR="$D" cmake --install "$ESTKIT_BIN" > install.log 2>&1 || fail "install: $(tail -n 5 install.log)"
unit="$D$prefix/lib/systemd/system/estd.service"
for key in Type=notify "ExecReload=/bin/kill -HUP \$MAINPID" ProtectSystem=strict NoNewPrivileges=yes \
    User=estd StateDirectory=estkit; do
	grep -qxF "$key" "$unit" || fail "the unit lacks $key"
done
# verify checks that ExecStart's program exists: point it into DESTDIR.
mkdir -p verify
sed "s|^ExecStart=$prefix|ExecStart=$D$prefix|" "$unit" > verify/estd.service
MANPATH="$D$prefix/share/man" systemd-analyze verify verify/estd.service > verify.out 2>&1 ||
	fail "systemd-analyze verify: $(cat verify.out)"
[ ! -s verify.out ] || fail "systemd-analyze verify complains: $(cat verify.out)"
exposure=$(systemd-analyze security --offline=yes verify/estd.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for estd.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
python3 -c "import sys; sys.exit(0 if float('$exposure') <= 2.0 else 1)" || fail "exposure level $exposure > 2.0"
ok "the installed unit passes systemd-analyze verify (exposure level $exposure)"
# The check can fail: a broken key is reported.
sed 's/^ProtectSystem=strict/ProtectSystem=bogus/' verify/estd.service > verify/broken.service
MANPATH="$D$prefix/share/man" systemd-analyze verify verify/broken.service > broken.out 2>&1 || true
grep -q 'ProtectSystem\|protect system' broken.out || fail "a broken unit passed: $(cat broken.out)"
ok "a unit with a bad value does not pass"
finish
