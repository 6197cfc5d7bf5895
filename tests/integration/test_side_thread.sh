#!/usr/bin/env bash
# The side threads (lib/server/side_thread.c: the key maker, the CRL keeper)
# when clients leave and when estd stops or reloads: clients gone (closed,
# reset, half-closed) while their keys wait are dropped, no key made and no
# certificate recorded for them, while a client that stays, pipelining its
# next request, is answered; SIGHUP and SIGTERM with keys queued; drain-timeout reached
# with 24 keys queued and with a CRL request waiting; a reload whose side
# thread (or worker) cannot start (a shim, tests/shims/thread_fail.c,
# fails one pthread_create on demand). Each time estd goes on serving or exits 0,
# with no sanitizer report (in a -DESTKIT_SANITIZE=ON build). No duration
# is asserted; every wait is bounded generously for a loaded machine.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || exit 77
SHIM="$ESTKIT_TOOLS/thread_fail.so"
[ -f "$SHIM" ] || fail "the thread_fail shim was not built"
# Under AddressSanitizer the shim comes first all the same: it must see
# estd's pthread_create before the sanitizer's own wrapper does.
if ldd "$ESTD" | grep_all libasan; then
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi

init_demo
cd "$T"
# One worker: every key below queues behind the one being made.
sed -i 's/^\[server\]$/[server]\nworkers = 1\ncrl-check-interval = 3600\nmax-connections-per-address = 64/' var/estd.conf
cat >> var/estd.conf <<'EOF2'
[alias slowkey]
server-keygen = yes
server-keygen-key = rsa:4096
[alias quickkey]
server-keygen = yes
server-keygen-key = ec:P-256
EOF2
# Basic: one request each (Digest would add a 401 first).
AUTH=(--basic -u estuser:estpwd)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=side -outform DER -out side.csr 2>/dev/null

# set_drain SECONDS: drain-timeout in var/estd.conf (read at the next start or reload).
set_drain() {
	sed -i '/^drain-timeout = /d' var/estd.conf
	sed -i "s/^\[server\]\$/[server]\ndrain-timeout = $1/" var/estd.conf
}
# keygen ALIAS OUT [curl args...]: POST side.csr to ALIAS's /serverkeygen; prints the status.
keygen() {
	local alias=$1 out=$2; shift 2
	curl -s -o "$out" -w '%{http_code}' --cacert "$TA" -H "Content-Type: application/pkcs10" \
	    --data-binary @side.csr "${AUTH[@]}" "$@" "$EST/$alias/serverkeygen" || true
}
# slow_keys N PREFIX [curl args...]: N RSA 4096 requests at once in the background;
# each writes PREFIX$i.st (its status; 000: no answer); their pids in $SLOW.
slow_keys() {
	local n=$1 prefix=$2 i; shift 2
	SLOW=()
	for i in $(seq "$n"); do
		keygen slowkey "$prefix$i.out" -m 600 "$@" > "$prefix$i.st" &
		SLOW+=($!)
	done
}
# log_count PATTERN: lines of estd.log with PATTERN.
log_count() { grep -c -- "$1" estd.log || true; }
# wait_log PATTERN N WHAT: wait (up to 5 minutes) for N lines with PATTERN in estd.log.
wait_log() {
	for _ in $(seq 3000); do
		[ "$(log_count "$1")" -ge "$2" ] && return 0
		kill -0 "$ESTD_PID" 2>/dev/null || fail "estd died waiting for $3"
		sleep 0.1
	done
	fail "$3: \"$1\" not logged $2 times"
}
# served: estd answers a plain request and makes a key now.
served() {
	expect_status 200 "$1: /cacerts is answered" "$EST/cacerts"
	[ "$(keygen quickkey quick.out)" = 200 ] || fail "$1: no key made: $(cat quick.out)"
	ok "$1: a key is made"
}
# stop_and_wait: SIGTERM estd, wait for it (bounded), check status 0 and no sanitizer report.
stop_and_wait() {
	local rc=0
	kill -TERM "$ESTD_PID"
	for _ in $(seq 3000); do kill -0 "$ESTD_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$ESTD_PID" 2>/dev/null && fail "$1: estd did not exit in 5 minutes"
	wait "$ESTD_PID" || rc=$?
	ESTD_PID=
	[ $rc = 0 ] || fail "$1: estd exited with status $rc"
	grep_all -E 'Sanitizer|runtime error:' estd.log && fail "$1: sanitizer report: $(grep -E -m3 'Sanitizer|runtime error:' estd.log)"
	ok "$1: estd exited 0, no sanitizer report"
}

# ---- 1. clients that leave while their keys wait or are made ----------------
set_drain 120
LD_PRELOAD="$SHIM" THREAD_FAIL_ARM="$T/arm" start_estd
# leave N: N RSA 4096 requests (Basic auth), each on its own connection, then
# a /cacerts on another: once it is answered the one worker has read the N
# (sent before it) and queued their keys, the first perhaps being made. Then
# the N connections close unanswered.
leave() {
	python3 - "$TLS_PORT" "$TA" side.csr "$1" <<'PY' || fail "the leaving clients failed"
import base64, socket, ssl, sys
port, ca, csr, n = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], 'rb').read(), int(sys.argv[4])
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
def connect():
    return ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=300))
auth = base64.b64encode(b'estuser:estpwd').decode()
socks = []
for _ in range(n):
    s = connect()
    s.sendall(('POST /.well-known/est/slowkey/serverkeygen HTTP/1.1\r\nHost: 127.0.0.1\r\n'
               'Authorization: Basic %s\r\nContent-Type: application/pkcs10\r\n'
               'Content-Length: %d\r\n\r\n' % (auth, len(csr))).encode() + csr)
    socks.append(s)
s = connect()
s.sendall(b'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
assert s.recv(12).startswith(b'HTTP/1.1 200'), 'no /cacerts'
s.close()
for s in socks:
    s.close()
PY
}
# Clients that leave are dropped, those that stay are answered. One worker,
# one key maker: a client that stays and 6 that go ask for RSA 4096 keys
# together (the worker takes them in any order; the first key is being made
# as they go); of the 6, 2 close, 2 reset (SO_LINGER 0), 2 half-close
# (shutdown(SHUT_WR): taken as gone, see docs/serverkeygen.md). Then a client
# that stays asks, pipelines a /cacerts behind its request, and reads both
# answers. Leavers send CN=leaver, the clients that stay CN=stayer.
for cn in leaver stayer; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
	    -subj /CN=$cn -outform DER -out $cn.csr 2>/dev/null
done
dropped0=$(log_count 'client left before its key was made: dropped')
python3 - "$TLS_PORT" "$TA" leaver.csr stayer.csr > stay.result <<'PY' || fail "the clients failed: $(cat stay.result)"
import base64, socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
leaver, stayer = open(sys.argv[3], 'rb').read(), open(sys.argv[4], 'rb').read()
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
auth = base64.b64encode(b'estuser:estpwd').decode()
def connect():
    return ctx.wrap_socket(socket.create_connection(('127.0.0.1', port), timeout=600))
def keygen(csr):
    return ('POST /.well-known/est/slowkey/serverkeygen HTTP/1.1\r\nHost: 127.0.0.1\r\n'
            'Authorization: Basic %s\r\nContent-Type: application/pkcs10\r\n'
            'Content-Length: %d\r\n\r\n' % (auth, len(csr))).encode() + csr
def answer(f):
    status = f.readline().split(b' ')[1].decode()
    length = 0
    while True:
        line = f.readline()
        if line in (b'\r\n', b''):
            break
        if line.lower().startswith(b'content-length:'):
            length = int(line.split(b':')[1])
    body = f.read(length)
    return status, body
# Connected (handshakes done) first, so the leavers' requests and closes come
# while the first key is being made.
first, leavers = connect(), [connect() for _ in range(6)]
first.sendall(keygen(stayer))
for s in leavers:
    s.sendall(keygen(leaver))
# Once this is answered the one worker has read the requests sent before it.
s = connect()
s.sendall(b'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
assert s.recv(12).startswith(b'HTTP/1.1 200'), 'no /cacerts'
s.close()
for i, s in enumerate(leavers):
    if i % 3 == 1:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    if i % 3 == 2:
        # The TCP socket's: SSLSocket.shutdown would drop the TLS session too.
        socket.socket.shutdown(s, socket.SHUT_WR)
    else:
        s.close()
last = connect()
last.sendall(keygen(stayer) + b'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: 127.0.0.1\r\n'
             b'Connection: close\r\n\r\n')
f = last.makefile('rb')
k_status, k_body = answer(f)
c_status, _ = answer(f)
assert b'CONTENTBOUNDARY' in k_body or k_status != '200', 'no multipart key'
print('last', k_status, c_status)
print('first', answer(first.makefile('rb'))[0])
# The half-closed ones get no answer: their connections are closed.
def closed(s):
    try:
        return s.recv(100) == b''
    except OSError:
        return True
for i, s in enumerate(leavers):
    if i % 3 == 2:
        print('half-closed', 'closed' if closed(s) else 'answered')
PY
grep_all '^last 200 200$' stay.result || fail "the client queued behind the leavers: $(cat stay.result)"
ok "a client queued behind 6 that left gets its RSA 4096 key, and its pipelined /cacerts"
grep_all '^first 200$' stay.result || fail "the client that stayed while its key was made: $(cat stay.result)"
ok "a client that stayed, asking along with those that left, gets its key (no false drop)"
[ "$(grep -c '^half-closed closed$' stay.result)" = 2 ] ||
    fail "half-closed clients: $(grep half-closed stay.result)"
ok "half-closed clients are closed unanswered"
# Each leaver's job came back before the last client's key was made (one at a time, in
# order); the wait is bounded all the same.
wait_log 'client left before its key was made: dropped' $((dropped0 + 6)) "the leavers' keys dropped"
leaver_certs=$("$ESTADM" -c var/estd.conf cert list --subject CN=leaver | grep -c "CN=leaver" || true)
stayer_certs=$("$ESTADM" -c var/estd.conf cert list --subject CN=stayer | grep -c "CN=stayer" || true)
[ "$leaver_certs" = 0 ] || fail "$leaver_certs certificates recorded for clients that left"
[ "$stayer_certs" = 2 ] || fail "$stayer_certs certificates recorded for the 2 clients that stayed"
ok "6 clients that left: dropped (logged), no certificate recorded; 2 that stayed: 2 certificates"
served "after the leavers were dropped"
# And left again, then SIGTERM while those keys are still queued: the requests
# whose clients left are dropped with the worker, nothing answered, nothing leaked.
leave 3
stop_and_wait "SIGTERM with the keys of clients that left still queued"

# ---- 2. SIGHUP, then SIGTERM, with keys queued ------------------------------
# drained PREFIX WHAT: each of the 4 requests PREFIX$i got its key, or (only on a
# machine so loaded that drain-timeout passed first) a close with no answer;
# $TIMEOUTS0: the drain-timeout lines logged before the signal.
drained() {
	local i st
	for i in 1 2 3 4; do
		st=$(cat "$1$i.st")
		case $st in
		200) ;;
		000) [ "$(log_count 'drain-timeout (120 s) passed')" -gt "$TIMEOUTS0" ] ||
		         fail "$2: key $i closed unanswered before drain-timeout" ;;
		*) fail "$2: key $i got $st $(head -c 200 "$1$i.out")" ;;
		esac
	done
	ok "$2: each got its key (or a close once drain-timeout passed)"
}
LD_PRELOAD="$SHIM" THREAD_FAIL_ARM="$T/arm" start_estd
reloads0=$(log_count '^.*reloaded ')
slow_keys 4 hup
sleep 1
TIMEOUTS0=$(log_count 'drain-timeout (120 s) passed')
kill -HUP "$ESTD_PID"
wait_log 'reloaded ' $((reloads0 + 1)) "the reload with keys queued"
wait "${SLOW[@]}"
drained hup "SIGHUP with 4 RSA 4096 keys queued on one worker: the old server drains"
served "after the reload"
slow_keys 4 term
sleep 1
TIMEOUTS0=$(log_count 'drain-timeout (120 s) passed')
stop_and_wait "SIGTERM with 4 RSA 4096 keys queued (drain-timeout 120)"
wait "${SLOW[@]}"
drained term "SIGTERM with 4 RSA 4096 keys queued"

# ---- 3. drain-timeout reached with 24 keys queued ---------------------------
set_drain 1
LD_PRELOAD="$SHIM" THREAD_FAIL_ARM="$T/arm" start_estd
slow_keys 24 many
sleep 2
stop_and_wait "SIGTERM with 24 RSA 4096 keys queued, drain-timeout 1"
wait "${SLOW[@]}"
got=0
for i in $(seq 24); do
	case $(cat many$i.st) in
	200) got=$((got + 1)) ;;
	000) ;;
	*) fail "key $i at drain-timeout: $(cat many$i.st) $(head -c 200 many$i.out)" ;;
	esac
done
[ $got -lt 24 ] || fail "all 24 keys were made: the stop waited for the queue"
grep_all 'drain-timeout (1 s) passed' estd.log || fail "no drain-timeout line in the log"
ok "drain-timeout with 24 keys queued: $got made, the others closed unanswered; estd did not wait for the queue"

# ---- 4. a CRL request waiting when drain-timeout is reached -----------------
if [ "${ESTKIT_TEST_STORE:-sqlite}" = sqlite ]; then
	LD_PRELOAD="$SHIM" THREAD_FAIL_ARM="$T/arm" start_estd
	enrol_demo crlvictim
	CRL_URL="http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl"
	curl -sf -o /dev/null "$CRL_URL" || fail "no CRL"
	# Revoked behind estd's back (the stored CRL is then stale), and the
	# store's write lock held: the keeper waits on it past drain-timeout.
	rm -f locked
	python3 - var/estkit.db "$(openssl x509 -in crlvictim.pem -noout -serial | cut -d= -f2 | sed 's/^0*//')" locked <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("UPDATE certs SET status='revoked', revoked_at=?, revocation_reason=1 WHERE serial=?",
           (int(time.time()), sys.argv[2]))
db.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
time.sleep(6)
db.execute("ROLLBACK")
PY
	locker=$!
	for _ in $(seq 100); do [ -e locked ] && break; sleep 0.1; done
	[ -e locked ] || fail "the store could not be locked"
	curl -s -m 600 -o crlwait.der -w '%{http_code}' "$CRL_URL" > crlwait.st &
	client=$!
	sleep 1
	stop_and_wait "SIGTERM with a CRL request waiting for the keeper, drain-timeout 1"
	wait "$client" "$locker" || true
	case $(cat crlwait.st) in
	000|500|503) ;;
	*) fail "the CRL request waiting at drain-timeout got $(cat crlwait.st)" ;;
	esac
	ok "a CRL request waiting at drain-timeout: closed or failed ($(cat crlwait.st)), estd exited 0"
else
	skip_part "a CRL request held by a locked SQLite store (SQLite only)"
fi

# ---- 5. a reload whose side thread cannot start -----------------------------
set_drain 10
LD_PRELOAD="$SHIM" THREAD_FAIL_ARM="$T/arm" start_estd
HOST_URL="http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crt"
# two_connections WHAT WANT: with one connection held open, a second one gets HTTP WANT.
two_connections() {
	local got
	exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
	sleep 0.5
	got=$(curl -s -o /dev/null -w '%{http_code}' "$HOST_URL" || true)
	exec 3<&-
	[ "$got" = "$2" ] || fail "$1: a second connection got $got, not $2"
	ok "$1: a second connection from the address gets $2"
}
two_connections "max-connections-per-address = 64" 200
# The new configuration would allow one connection per address.
sed -i 's/^max-connections-per-address = .*/max-connections-per-address = 1/' var/estd.conf
# The reload creates the store's checkpointer thread (0), the store writer's (1),
# the CRL keeper's (2), the key maker's (3), then the workers' (4: the first).
for n in 3 2 0 4; do
	refused0=$(log_count 'the previous configuration goes on serving')
	echo $n > arm
	kill -HUP "$ESTD_PID"
	wait_log 'the previous configuration goes on serving' $((refused0 + 1)) "the reload refused"
	[ ! -e arm ] || fail "the shim failed no thread creation"
	case $n in
	3) what="the key maker" ;;
	2) what="the CRL keeper" ;;
	0) what="the store's checkpointer" ;;
	4) what="worker" ;;
	esac
	grep_all "reload refused: cannot start $what thread" estd.log ||
	    fail "no log line says why: $(grep 'reload refused' estd.log | tail -2)"
	ok "$what: its thread cannot start; the reload is refused, with the reason logged"
	served "after the refused reload ($what)"
	two_connections "the refused reload ($what) left the old limits" 200
done
reloads0=$(log_count 'reloaded ')
kill -HUP "$ESTD_PID"
wait_log 'reloaded ' $((reloads0 + 1)) "the reload without a failure"
served "after a reload that succeeded"
two_connections "the reload that succeeded applies max-connections-per-address = 1" 000
stop_and_wait "SIGTERM after refused reloads"

finish
