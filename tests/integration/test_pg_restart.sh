#!/usr/bin/env bash
# PostgreSQL restarted between two requests (a failover, an upgrade, a crash
# and recovery): the first request after it finds its connection closed by the
# old server. A statement that changed nothing -- a read, or the BEGIN of the
# enrolment's transaction -- is made again on a new connection, so the
# database being back is enough: the next enrolment is served (200), and the
# next request held for approval is answered 202 (EST-S-43), not 503.
# Operators see no failed enrolment for a restart that happened while
# nobody enrolled; clients without a Retry-After loop are not turned away.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_demo
sed -i 's/^\[server\]$/[server]\nworkers = 2/' "$CONF"
start_estd
cd "$T"
PK=(-H 'Content-Type: application/pkcs10')

enrol() { # NAME URL: the HTTP status of one enrolment of a new key, no retry
	mkcsr "$1"
	curl -s -o "$1.out" -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
	    --data-binary @"$1.b64" "$2"
}

[ "$(enrol first "$EST/simpleenroll")" = 200 ] || fail "enrolment before the restart: $(cat first.out)"

for round in 1 2; do
	pg_stop
	pg_restart
	st=$(enrol "after$round" "$EST/simpleenroll")
	[ "$st" = 200 ] || fail "round $round: the first enrolment after PostgreSQL restarted: HTTP $st $(cat "after$round.out")"
	p7_to_pem "after$round.out" "after$round.pem"
	"${ADM[@]}" cert show "$(openssl x509 -in "after$round.pem" -noout -serial | cut -d= -f2)" >/dev/null ||
	    fail "round $round: the certificate served is not on record"
done
ok "the first enrolment after each PostgreSQL restart is served and on record"

pg_stop
pg_restart
st=$(enrol held "$EST/approval/simpleenroll")
[ "$st" = 202 ] || fail "a request for approval after the restart: HTTP $st $(cat held.out)"
"${ADM[@]}" req list | grep_all pending || fail "the request answered 202 is not held"
ok "the first request for approval after a PostgreSQL restart is held and answered 202 (EST-S-43)"

grep -q 'starting a transaction: the database cannot be reached' estd.log &&
    fail "a request failed on the closed connection: $(grep -m1 'starting a transaction' estd.log)"
finish
