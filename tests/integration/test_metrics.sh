#!/usr/bin/env bash
# /metrics (issue 14, point 4): Prometheus text on its own listener
# (metrics-listen), valid for `promtool check metrics` (skipped, exit 77,
# without promtool), with counts that match what was done: requests by
# alias, operation and status, enrolments and renewals, authentication
# failures by method, the latency histogram, store commits, certificates
# expiring within 7 and 30 days, open connections. The EST listeners do not
# serve /metrics and the metrics listener serves nothing else.
. "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null || { echo "skipped: promtool (Debian package prometheus) not installed"; exit 77; }
init_demo
sed -i -e 's/^log-level = info/log-level = info\nmetrics-listen = 127.0.0.1:0/' \
	-e 's/^validity-days = 365/validity-days = 5/' "$T/var/estd.conf"
start_estd
cd "$T"
metrics_port
PK=(-H 'Content-Type: application/pkcs10')

# value NAME{LABELS}: the sample's value in metrics.txt, or "absent".
value() {
	awk -v want="$1" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }' metrics.txt
}
expect() {
	local got
	got=$(value "$1")
	[ "$got" = "$2" ] || fail "$1 is $got, expected $2"
}
scrape() {
	curl -s -f -o metrics.txt -D metrics.head "$M" || fail "GET /metrics failed"
	promtool check metrics < metrics.txt > promtool.out 2>&1 || fail "promtool: $(cat promtool.out)"
}

scrape
grep -qi '^content-type: text/plain; version=0.0.4' metrics.head || fail "wrong content type: $(cat metrics.head)"
expect 'estd_open_connections' 0
ok "an idle server's metrics pass promtool check metrics"

for i in 1 2 3; do
	mkcsr "dev$i"
	status=$(curl -s -o "dev$i.p7" -w '%{http_code}' --cacert "$TA" --digest -u estuser:estpwd "${PK[@]}" \
	    --data-binary @"dev$i.b64" "$EST/simpleenroll")
	[ "$status" = 200 ] || fail "enrolment $i gave $status"
done
p7_to_pem dev1.p7 dev1.pem
status=$(curl -s -o renew.p7 -w '%{http_code}' --cacert "$TA" --cert dev1.pem --key dev1.key "${PK[@]}" \
    --data-binary @dev1.b64 "$MEST/simplereenroll")
[ "$status" = 200 ] || fail "renewal gave $status"
for i in 1 2; do
	expect_status 401 "wrong password $i" "$EST/simpleenroll" --basic -u estuser:wrong "${PK[@]}" --data-binary @dev2.b64
done
expect_status 200 "cacerts" "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts"
# One connection held open while scraping.
python3 - "$TLS_PORT" > hold.out 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
print("open", flush=True)
time.sleep(8)
PY
holder=$!
for _ in $(seq 50); do grep -q open hold.out 2>/dev/null && break; sleep 0.1; done
sleep 0.3
scrape
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

# curl --digest: a 401 challenge, then the 200, per enrolment.
expect 'estd_requests_total{alias="est",op="simpleenroll",status="200"}' 3
expect 'estd_requests_total{alias="est",op="simpleenroll",status="401"}' 5
expect 'estd_requests_total{alias="est",op="simplereenroll",status="200"}' 1
expect 'estd_requests_total{alias="est",op="cacerts",status="200"}' 1
expect 'estd_enrolments_total{alias="est"}' 3
expect 'estd_renewals_total{alias="est"}' 1
expect 'estd_auth_failures_total{method="basic"}' 2
expect 'estd_auth_failures_total{method="none"}' absent
expect 'estd_request_duration_seconds_count{op="simpleenroll"}' 8
expect 'estd_request_duration_seconds_bucket{op="simpleenroll",le="+Inf"}' 8
expect 'estd_store_commit_duration_seconds_count' 4
expect 'estd_store_commit_group_size_count' 4
# One at a time, so each group held one certificate: the sum counts records.
expect 'estd_store_commit_group_size_sum' 4
# Four certificates valid for 5 days; estd's own TLS certificate for years.
expect 'estd_certificates_expiring{within="7d"}' 4
expect 'estd_certificates_expiring{within="30d"}' 4
expect 'estd_open_connections' 1
ok "counts after 3 enrolments, 1 renewal, 2 wrong passwords: requests, enrolments, renewals, auth failures, latency, commits, expiring, open connections"

# The bounds of each listener.
expect_status 404 "/metrics on an EST listener" "https://127.0.0.1:$TLS_PORT/metrics"
expect_status 404 "EST on the metrics listener" "http://127.0.0.1:$MPORT/.well-known/est/cacerts"
got=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$M")
[ "$got" != 200 ] || fail "POST /metrics answered 200"
ok "the metrics listener serves GET /metrics only (POST: $got)"
expect_status 200 "HEAD /metrics" "$M" -I
expect_status 200 "/metrics with a query" "$M?name%5B%5D=estd_open_connections"

# The validation can fail: a duplicate family is refused by promtool.
{ cat metrics.txt; grep -A1 '^# HELP estd_open_connections' metrics.txt; } > broken.txt
! promtool check metrics < broken.txt > /dev/null 2>&1 || fail "promtool accepted a broken exposition"
ok "promtool refuses a broken exposition (so the check above means something)"
finish
