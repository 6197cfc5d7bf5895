#!/usr/bin/env bash
# Request limits and HTTP connection handling: body and head sizes, stalled
# requests, connection count, keep-alive, Expect, versions and codings.
# Each refusal is the right status with one line of text.
. "$(dirname "$0")/lib.sh"

init_demo
sed -i 's/^log-level = info/log-level = info\nidle-timeout = 2\nread-timeout = 3\nhandshake-timeout = 1\nmax-header-fields = 20\nmax-connections = 4/' "$T/var/estd.conf"
start_estd
cd "$T"
mkcsr dev

# first TEXT: its first line, without a pipeline (head closing early would
# make the writer die of SIGPIPE, which pipefail reports as a failure).
first() { printf '%s\n' "${1%%$'\n'*}"; }

# raw REQUEST: send bytes to the plain listener, print the whole answer.
raw() {
	exec 3<>/dev/tcp/127.0.0.1/$HTTP_PORT || return 0
	# In a subshell: a write to a closed socket kills the writer with SIGPIPE.
	(printf '%b' "$1" >&3) 2>/dev/null || true
	timeout 5 cat <&3 2>/dev/null || true
	exec 3<&-
}

head -c 100000 /dev/zero | tr '\0' A > big.b64
hdr=$(curl -s -D - -o body.txt --cacert "$TA" -H 'Content-Type: application/pkcs10' --data-binary @big.b64 \
    --basic -u estuser:estpwd "$EST/simpleenroll")
first "$hdr" | grep_all ' 413 ' || fail "body over max-body: $(first "$hdr")"
echo "$hdr" | grep_all -i '^Content-Type: text/plain' || fail "413 is not text/plain"
[ "$(wc -l < body.txt)" = 1 ] || fail "413 body is not one line"
ok "body over max-body: 413 with one line: $(cat body.txt)"
grep -q 'status=413' estd.log || fail "413 not in the access log"

got=$(code "$EST/cacerts" -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)")
[ "$got" = 431 ] || fail "head over max-headers-size gave $got"
ok "request head over max-headers-size: 431"
many=$(for i in $(seq 25); do printf -- '-H X-F%d:%d ' $i $i; done)
# shellcheck disable=SC2086
got=$(code "$EST/cacerts" $many)
[ "$got" = 431 ] || fail "25 header fields gave $got"
ok "more than max-header-fields (20) header fields: 431"

answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n')
first "$answer" | grep_all ' 501 ' || fail "chunked request: $(first "$answer")"
ok "chunked request body: 501"
answer=$(raw 'GET /.well-known/est/cacerts HTTP/2.0\r\nHost: x\r\n\r\n')
first "$answer" | grep_all ' 505 ' || fail "HTTP/2.0 request line: $(first "$answer")"
ok "unsupported HTTP version: 505"
answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n')
first "$answer" | grep_all ' 400 ' || fail "conflicting Content-Length: $(first "$answer")"
ok "conflicting Content-Length fields: 400"
answer=$(raw 'garbage\r\n\r\n')
first "$answer" | grep_all ' 400 ' || fail "garbage request line: $(first "$answer")"
ok "malformed request line: 400"
answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
first "$answer" | grep_all ' 200 ' || fail "HTTP/1.0: $(first "$answer")"
echo "$answer" | grep_all -i '^Connection: close' || fail "HTTP/1.0 without keep-alive is not closed"
ok "HTTP/1.0 request: 200, connection closed"
answer=$(raw 'HEAD /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
first "$answer" | grep_all ' 200 ' || fail "HEAD: $(first "$answer")"
[ "$(echo "$answer" | grep -c 'MII')" = 0 ] || fail "HEAD answer carries a body"
ok "HEAD: headers only"

# A request that stalls half-way gets 408 after idle-timeout (slow-loris).
start=$(date +%s)
answer=$(raw 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nabc')
first "$answer" | grep_all ' 408 ' || fail "stalled body: $(first "$answer")"
[ $(( $(date +%s) - start )) -le 6 ] || fail "408 came after more than idle-timeout"
ok "stalled request: 408 after idle-timeout"
answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n')
first "$answer" | grep_all ' 408 ' || fail "stalled head: $(first "$answer")"
ok "stalled request head: 408"

# A request trickling in, never idle long enough for idle-timeout, is cut at read-timeout.
python3 - "$HTTP_PORT" > trickle.txt <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n")
s.settimeout(0.5)
start, data = time.time(), b""
while time.time() - start < 8:
    try:
        s.sendall(b"X-Slow: y\r\n")
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    except socket.timeout:
        pass
    except OSError:
        break
print(data.split(b"\r\n")[0].decode(errors="replace"), round(time.time() - start))
PY
grep -q ' 408 ' trickle.txt || fail "trickling request: $(cat trickle.txt)"
[ "$(awk '{print $NF}' trickle.txt)" -le 7 ] || fail "trickling request cut only after $(awk '{print $NF}' trickle.txt) s"
grep -q 'read-timeout' estd.log || fail "408 reason not logged"
ok "slow-loris: a request trickling in is cut with 408 at read-timeout"

# A TLS client that does not complete its handshake is dropped at handshake-timeout.
start=$(date +%s)
exec 4<>/dev/tcp/127.0.0.1/$TLS_PORT
timeout 6 cat <&4 >/dev/null || true
exec 4<&-
[ $(( $(date +%s) - start )) -le 5 ] || fail "TLS connection without handshake kept open"
grep -q 'TLS handshake not done within handshake-timeout' estd.log || fail "handshake timeout not logged"
ok "TLS handshake not done: closed at handshake-timeout"

# A flood of failing handshakes (plain HTTP to the TLS port) writes at most 10
# lines a second, and a line of a later second counts the ones left out.
flood_tls() {
	python3 - "$TLS_PORT" "$1" <<'PY'
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    try:
        s.recv(100)
    except OSError:
        pass
    s.close()
PY
}
before=$(grep -c 'TLS failed' estd.log || true)
t0=$(date +%s)
flood_tls 200
secs=$(( $(date +%s) - t0 + 1 ))
sleep 1.1
flood_tls 1
sleep 0.2
lines=$(( $(grep -c 'TLS failed' estd.log) - before ))
[ "$lines" -le $((secs * 10 + 2)) ] || fail "201 failing handshakes in about $secs s wrote $lines lines"
grep 'TLS failed' estd.log | tail -n 1 | grep -qE '\(([1-9][0-9]*) more like it not logged\)' \
    || fail "the line after a flood does not count the ones left out: $(grep 'TLS failed' estd.log | tail -n 3)"
ok "failing handshakes: at most 10 lines a second ($lines for 201), the rest counted"

# Keep-alive: two requests on one connection (EST-G-08).
n=$(curl -s -v --cacert "$TA" "$EST/cacerts" "$EST/cacerts" -o /dev/null -o /dev/null 2>&1 | grep -ci 're-using existing connection') || true
[ "$n" -ge 1 ] || fail "second request did not reuse the connection"
ok "keep-alive: a second request reuses the connection (EST-G-08)"

# Expect: 100-continue is answered, and the request then served.
got=$(code "$EST/simpleenroll" -H 'Content-Type: application/pkcs10' -H 'Expect: 100-continue' \
    --data-binary @dev.b64 --basic -u estuser:estpwd)
[ "$got" = 200 ] || fail "Expect: 100-continue gave $got"
ok "Expect: 100-continue: 200"

# max-connections: with 4 connections each in the middle of a request, a
# fifth is closed at once; with 4 idle ones, the oldest makes room for it.
# A fresh estd with long timeouts, so that no connection is dropped before
# the fifth arrives on a loaded machine.
check_estd_exit
sed -i -e 's/^idle-timeout = 2$/idle-timeout = 60/' -e 's/^read-timeout = 3$/read-timeout = 60/' "$T/var/estd.conf"
start_estd
for fd in 5 6 7 8; do
	eval "exec $fd<>/dev/tcp/127.0.0.1/$HTTP_PORT"
	printf 'GET /.well-known/est/cacerts HTTP/1.1\r\n' >&$fd
done
sleep 0.3
answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
[ -z "$answer" ] || fail "a connection over max-connections was served"
for fd in 5 6 7 8; do eval "exec $fd<&-"; done
grep -q 'max-connections (4) reached and none idle' estd.log || fail "refusal not logged"
ok "connection over max-connections, none idle: closed and logged"
for _ in $(seq 25); do
	sleep 0.2
	answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
	first "$answer" | grep_all ' 200 ' && break
done
for fd in 5 6 7 8; do eval "exec $fd<>/dev/tcp/127.0.0.1/$HTTP_PORT"; done
sleep 0.3
answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
first "$answer" | grep_all ' 200 ' || fail "at max-connections with idle ones, a new one was not served"
for fd in 5 6 7 8; do eval "exec $fd<&-"; done
grep -q 'it was the oldest idle connection' estd.log || fail "eviction not logged"
ok "at max-connections with idle connections, the oldest makes room (logged)"
# estd notices the closes asynchronously: allow it a few seconds on a busy machine.
for _ in $(seq 25); do
	sleep 0.2
	answer=$(raw 'GET /.well-known/est/cacerts HTTP/1.0\r\n\r\n')
	first "$answer" | grep_all ' 200 ' && break
done
first "$answer" | grep_all ' 200 ' || fail "not served again after connections closed"
ok "served again once connections are closed"

finish
