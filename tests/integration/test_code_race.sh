#!/usr/bin/env bash
# Losing a one-time-code race is no failed authentication (issue 10,
# point 7): 30 parallel enrolments with one right one-time code get one
# certificate and 29 refusals, and the address is not locked out for it
# (auth-fail-limit = 3). Wrong codes still count: three lock it out.
. "$(dirname "$0")/lib.sh"

init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
sed -i 's/^\[server\]$/[server]\nworkers = 2\nauth-fail-limit = 3\nauth-fail-window = 60\nauth-lockout = 300/' \
    "$T/var/estd.conf"
for n in race next guess; do
	"${ADM[@]}" ee add --username "$n" --dn "CN=$n" --alias est --password - <<< "code-$n" > /dev/null
done
start_estd
cd "$T"
# enrol NAME [HEADERS]: the status; the response head into HEADERS if given.
enrol() { curl -s -o /dev/null -D "${2:-/dev/null}" -w '%{http_code}\n' --cacert "$TA" \
    -H 'Content-Type: application/pkcs10' --data-binary @"$1.der" "$EST/simpleenroll"; }
code_csr race race code-race
pids=()
for i in $(seq 30); do enrol race "h$i.txt" > "r$i.txt" & pids+=($!); done
wait "${pids[@]}"
wins=$(cat r*.txt | grep -c '^200$' || true)
losses=$(cat r*.txt | grep -c '^401$' || true)
[ "$wins" = 1 ] && [ "$losses" = 29 ] || fail "30 racers: $wins got 200, $losses got 401"
ok "30 parallel enrolments with one one-time code: one certificate, 29 refused"
# A loser refused by authentication or only when its record is written
# (the code spent in between): a 401 with its challenges either way.
for i in $(seq 30); do
	[ "$(cat "r$i.txt")" = 401 ] || continue
	grep_all -i '^WWW-Authenticate: ' "h$i.txt" || fail "a 401 without WWW-Authenticate: $(cat "h$i.txt")"
done
ok "every refused racer's 401 carries WWW-Authenticate"
grep_all 'lost a race' estd.log || fail "the lost races are not logged as such"
! grep -q 'auth lock-out' estd.log || fail "losing the race locked out: $(grep 'lock-out' estd.log)"
code_csr next next code-next
[ "$(enrol next)" = 200 ] || fail "the racing address was locked out"
ok "the address is not locked out for losing the race"

# The attacker's side: wrong codes count as before.
code_csr guess guess wrong-code
for _ in 1 2 3; do [ "$(enrol guess)" = 401 ] || fail "a wrong code was not refused"; done
code_csr guess guess code-guess
[ "$(enrol guess)" = 401 ] || fail "the right code was accepted during a lock-out"
grep_all 'auth lock-out' estd.log || fail "three wrong codes did not lock out"
ok "three wrong codes still lock out"
finish
