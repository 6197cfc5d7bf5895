#!/usr/bin/env bash
# Soak test (make soak; not part of make check): an estd on 127.0.0.1 under
# a mixed load for SECONDS -- enrolments (Basic and Digest), wrong passwords
# from another address, 10 connections pipelining without reading (plain
# and TLS), slow-loris clients and idle sockets -- then a report of estd's
# RSS (from /proc), its open fds, the answers by status and the errors.
# Fails when RSS went over 64 MiB, a fresh client waited 1 s or more, estd
# answered 500 or died, or fds did not come back down.
#   scripts/soak.sh BUILD [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:?usage: soak.sh BUILD [SECONDS]}" && pwd)
seconds=${2:-60}
H="$PWD/tests/integration/hostile.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/estkit-soak.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "${ESTD_PID:-}" ] && kill "$ESTD_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
ulimit -n 8192 2>/dev/null || true

"$build/estadm" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 > /dev/null
"$build/estd" -c "$T/var/estd.conf" --ready-file "$T/ready" > "$T/estd.log" 2>&1 &
ESTD_PID=$!
for _ in $(seq 100); do [ -f "$T/ready" ] && break; sleep 0.1; done
[ -f "$T/ready" ] || { echo "soak: estd did not start"; cat "$T/estd.log"; exit 1; }
http=$(awk '$1=="http"{print $2}' "$T/ready")
tls=$(awk '$1=="tls"{print $2}' "$T/ready")
ca="$T/var/ca.pem"
cd "$T"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key -subj /CN=soak \
    -outform DER -out dev.der 2>/dev/null
base_fds=$(ls /proc/"$ESTD_PID"/fd | wc -l)
end=$(( $(date +%s) + seconds ))

# enroller AUTH...: enrol until the end, counting statuses.
enroller() {
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 --cacert "$ca" "$@" \
		    -H 'Content-Type: application/pkcs10' --data-binary @dev.der \
		    "https://127.0.0.1:$tls/.well-known/est/simpleenroll" || echo 000
	done
}
enroller --basic -u estuser:estpwd > enrol-basic.txt & pids+=($!)
enroller --digest -u estuser:estpwd > enrol-digest.txt & pids+=($!)
enroller --interface 127.0.0.3 --basic -u estuser:wrong > wrong.txt & pids+=($!)
python3 "$H" slow "$http" "$seconds" 20 > slow.txt & pids+=($!)
python3 "$H" idle "$ESTD_PID" "$tls" "$http" 500 127.0.0.5 > idle.txt & pids+=($!)
python3 "$H" flood "$ESTD_PID" "$http" "$tls" "$ca" "$seconds" 10 > flood.txt
wait "${pids[@]}" 2>/dev/null || true
pids=()
sleep 3  # let estd close what the clients left
fds=$(ls /proc/"$ESTD_PID"/fd | wc -l)
rss_end=$(awk '/^VmRSS:/{print $2}' /proc/"$ESTD_PID"/status)
val() { awk -v k="$1" '$1==k{print $2}' "$2"; }
count() { grep -c "^$1\$" "$2" || true; }

echo "soak: ${seconds} s of mixed load on estd (pid $ESTD_PID)"
echo "  RSS:          max $(val max_rss_kib flood.txt) KiB, at the end $rss_end KiB (bound 65536)"
echo "  fds:          $base_fds before, $fds after (peak with idle sockets: $(val estd_fds idle.txt))"
echo "  fresh client: $(val fresh_ok flood.txt) served, $(val fresh_failed flood.txt) failed, slowest $(val worst_fresh_ms flood.txt) ms"
echo "  enrolments:   Basic $(count 200 enrol-basic.txt) ok of $(wc -l < enrol-basic.txt)," \
    "Digest $(count 200 enrol-digest.txt) ok of $(wc -l < enrol-digest.txt)"
echo "  wrong passwords (127.0.0.3): $(count 401 wrong.txt) answered 401 of $(wc -l < wrong.txt)"
echo "  slow clients cut off: $(val slow_closed slow.txt)"
echo "  estd log: $(wc -l < estd.log) lines; status=500: $(grep -c 'status=500' estd.log || true);" \
    "errors: $(grep -c ' error ' estd.log || true)"

failed=0
kill -0 "$ESTD_PID" 2>/dev/null || { echo "FAIL: estd died"; failed=1; }
[ "$(val max_rss_kib flood.txt)" -lt 65536 ] || { echo "FAIL: RSS over 64 MiB"; failed=1; }
[ "$(val fresh_failed flood.txt)" = 0 ] && [ "$(val worst_fresh_ms flood.txt)" -lt 1000 ] ||
	{ echo "FAIL: a fresh client was not served within 1 s"; failed=1; }
! grep -q 'status=500' estd.log || { echo "FAIL: estd answered 500"; failed=1; }
[ "$(count 200 enrol-basic.txt)" -gt 0 ] && [ "$(count 200 enrol-digest.txt)" -gt 0 ] ||
	{ echo "FAIL: enrolments did not go through"; failed=1; }
[ "$fds" -le $((base_fds + 10)) ] || { echo "FAIL: $fds fds left open (from $base_fds)"; failed=1; }
[ $failed = 0 ] && echo "soak: passed"
exit $failed
