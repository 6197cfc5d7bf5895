#!/usr/bin/env bash
# Renewal soak (make soak; not part of make check): one estclient renew
# --daemon keeps 5 certificates of a 2-minute profile renewed against an
# estd on 127.0.0.1 for SECONDS (each renews about every 13 s), then a
# report: renewals, the daemon's RSS and open fds at the start and the end.
# Fails when the daemon died, a certificate expired or does not verify, a
# device renewed less than expected, or the daemon's RSS grew by more than
# 4 MiB or its fds did not stay put (a leak per renewal shows at once).
#   scripts/soak-renew.sh BUILD [SECONDS]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
build=$(cd "${1:?usage: soak-renew.sh BUILD [SECONDS]}" && pwd)
seconds=${2:-60}
T=$(mktemp -d "${TMPDIR:-/tmp}/estkit-soak-renew.XXXXXX")
cleanup() {
	[ -n "${DAEMON:-}" ] && kill "$DAEMON" 2>/dev/null || true
	[ -n "${ESTD_PID:-}" ] && kill "$ESTD_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

"$build/estadm" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 > /dev/null
cat >> "$T/var/estd.conf" <<'CONF'

[profile short]
validity-seconds = 120
extended-key-usage = clientAuth, serverAuth

[alias short]
mode = ra
ca = ManagementCA
profile = short
authentication = http, certificate
renew-same-key = yes
CONF
"$build/estd" -c "$T/var/estd.conf" --ready-file "$T/ready" > "$T/estd.log" 2>&1 &
ESTD_PID=$!
for _ in $(seq 100); do [ -f "$T/ready" ] && break; sleep 0.1; done
[ -f "$T/ready" ] || { echo "soak-renew: estd did not start"; cat "$T/estd.log"; exit 1; }
tls=$(awk '$1=="tls"{print $2}' "$T/ready")
mtls=$(awk '$1=="mtls"{print $2}' "$T/ready")
cd "$T"
cp var/ca.pem ta.pem
{
	printf 'host = 127.0.0.1\nport = %s\npath-seg = short\ntrustanchor = %s/ta.pem\n' "$mtls" "$T"
	printf 'renew-share = 74.5%%\nretry-delay = 2\n'
	printf 'post-hook = echo "$ESTCLIENT_RENEW_NAME" >> %s/renewed.log\n' "$T"
} > renew.conf
for i in 1 2 3 4 5; do
	PW=estpwd "$build/estclient" -e -s 127.0.0.1 -p "$tls" --path-seg short --trustanchor ta.pem \
	    -u estuser --password-env PW --common-name "soak$i" -o "d$i" --pem-output 2>/dev/null
	printf '[cert d%s]\ncert = %s/d%s/cert-0-0.pem\nkey = %s/d%s/key-x-x.pem\n' "$i" "$T" "$i" "$T" "$i" \
	    >> renew.conf
done
"$build/estclient" renew --daemon --config renew.conf 2> daemon.log &
DAEMON=$!
sleep 5
rss() { awk '/^VmRSS:/{print $2}' /proc/"$DAEMON"/status; }
fds() { ls /proc/"$DAEMON"/fd | wc -l; }
rss_start=$(rss) fds_start=$(fds)
sleep "$seconds"
alive=1; kill -0 "$DAEMON" 2>/dev/null || alive=0
rss_end=$( [ $alive = 1 ] && rss || echo 0) fds_end=$( [ $alive = 1 ] && fds || echo 0)

echo "soak-renew: ${seconds} s of estclient renew --daemon with 5 two-minute certificates"
echo "  renewals:     $(wc -l < renewed.log 2>/dev/null || echo 0) ($(sort renewed.log | uniq -c | awk '{printf "%s %s, ", $2, $1}'))"
echo "  daemon RSS:   $rss_start KiB after 5 s, $rss_end KiB at the end"
echo "  daemon fds:   $fds_start after 5 s, $fds_end at the end"
echo "  daemon log:   $(wc -l < daemon.log) lines, errors: $(grep -c 'error' daemon.log || true)"

failed=0
[ $alive = 1 ] || { echo "FAIL: the daemon died: $(tail -n 3 daemon.log)"; failed=1; }
min=$(( seconds / 20 ))
for i in 1 2 3 4 5; do
	n=$(grep -c "^d$i\$" renewed.log || true)
	[ "$n" -ge "$min" ] || { echo "FAIL: d$i renewed $n times, expected at least $min"; failed=1; }
	openssl x509 -in "d$i/cert-0-0.pem" -noout -checkend 0 > /dev/null &&
	    openssl verify -CAfile ta.pem "d$i/cert-0-0.pem" > /dev/null ||
	    { echo "FAIL: d$i's certificate is expired or does not verify"; failed=1; }
done
[ $alive = 0 ] || [ "$rss_end" -le $((rss_start + 4096)) ] || { echo "FAIL: RSS grew by $((rss_end - rss_start)) KiB"; failed=1; }
[ $alive = 0 ] || [ "$fds_end" -le $((fds_start + 2)) ] || { echo "FAIL: fds grew from $fds_start to $fds_end"; failed=1; }
[ $failed = 0 ] && echo "soak-renew: passed"
exit $failed
