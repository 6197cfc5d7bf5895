#!/usr/bin/env bash
# The attacker's side of revoke-replaced on two estd sharing one PostgreSQL
# database: one certificate and its key, renewed by 16 requests at once
# spread over both servers (a device's thief racing the device, or a device
# that wants more certificates than its policy gives). Every request passes
# the check that the certificate is valid before any is recorded; each
# renewal revokes it in the transaction that records the new one. A renewal
# that finds it revoked by then used to be recorded anyway, so one
# certificate yielded several valid successors. Exactly one renewal may stand
# (EST-S-52: /simplereenroll is authenticated by that certificate).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_demo
sed -i 's/^\[server\]$/[server]\nworkers = 2/' "$CONF"
sed -i 's/^\[alias est\]$/[alias est]\nrevoke-replaced = yes/' "$CONF"
cp -a "$T/var" "$T/var2"
cd "$T"
start_estd
MEST1=$MEST
"$ESTD" -c "$T/var2/estd.conf" --ready-file "$T/ready2" >> estd2.log 2>&1 &
ESTD2_PID=$!
trap 'rc=$?; kill "$ESTD2_PID" 2>/dev/null || true; pg_cleanup; set +e; (exit $rc); cleanup' EXIT
for _ in $(seq 100); do [ -f ready2 ] && break; sleep 0.1; done
[ -f ready2 ] || fail "the second estd did not start: $(tail -n 5 estd2.log)"
MEST2="https://127.0.0.1:$(awk '$1=="mtls"{print $2}' ready2)/.well-known/est"

enrol_demo dev
for round in 1 2 3; do
	pids=()
	for i in $(seq 16); do
		if [ $((i % 2)) = 0 ]; then url=$MEST1; else url=$MEST2; fi
		( curl -s -o "r$round-$i.out" -w '%{http_code}\n' --cacert "$TA" --cert dev.pem --key dev.key \
		    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 "$url/simplereenroll" \
		    > "r$round-$i.st" ) & pids+=($!)
	done
	wait "${pids[@]}"
	wins=$(cat r$round-*.st | grep -c '^200$' || true)
	[ "$wins" = 1 ] || fail "round $round: 16 renewals of one certificate on two servers gave $wins certificates ($(sort r$round-*.st | uniq -c | tr '\n' ' '))"
	[ "$(cat r$round-*.st | grep -vc '^200$')" = 15 ] && ! grep -q '^5' r$round-*.st ||
	    fail "round $round: the losers were not refused 4xx: $(sort r$round-*.st | uniq -c | tr '\n' ' ')"
	valid=$("${ADM[@]}" cert list --subject CN=dev | grep -c ' valid ' || true)
	[ "$valid" = 1 ] || fail "round $round: $valid valid certificates for CN=dev: $("${ADM[@]}" cert list --subject CN=dev)"
	# The winner renews next round, as a device would.
	for i in $(seq 16); do
		[ "$(cat "r$round-$i.st")" = 200 ] && p7_to_pem "r$round-$i.out" dev.pem
	done
done
ok "16 concurrent renewals of one certificate on two servers: one certificate, the rest 403, three times"
kill -TERM "$ESTD2_PID"
wait "$ESTD2_PID" || fail "server 2 did not stop cleanly"
finish
