#!/usr/bin/env bash
# Several estd on one PostgreSQL database each write their own crl-file
# (docs/deployment.md: "all nodes publish the same CRL"). A CRL is made once,
# by whichever node or estadm gets there first; every node's keeper must then
# write that CRL to its own file at its next check. Before, a node wrote its
# file only for a CRL it made itself: after `estadm cert revoke` on one node,
# or a CRL another node made, the other node's crl-file kept listing a revoked
# certificate as good, for as long as that node made no CRL of its own -- a
# relying party reading it accepted the revoked certificate. A release from
# hold must reach every node's file the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_demo
sed -i 's/^\[server\]$/[server]\nworkers = 1\ncrl-check-interval = 1/' "$CONF"
grep_all '^crl-file = ManagementCA.crl' "$CONF" || fail "estadm init wrote no crl-file"
cp -a "$T/var" "$T/var2"
FILE1="$T/var/ManagementCA.crl"
FILE2="$T/var2/ManagementCA.crl"
cd "$T"

start_estd
rm -f ready2
"$ESTD" -c "$T/var2/estd.conf" --ready-file "$T/ready2" >> estd2.log 2>&1 &
ESTD2_PID=$!
trap 'rc=$?; kill "$ESTD2_PID" 2>/dev/null || true; pg_cleanup; set +e; (exit $rc); cleanup' EXIT
for _ in $(seq 100); do [ -f ready2 ] && [ -s "$FILE1" ] && [ -s "$FILE2" ] && break; sleep 0.1; done
[ -s "$FILE1" ] && [ -s "$FILE2" ] || fail "the nodes did not write their crl-files at start"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
number_of() { openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2; }
lists() { openssl crl -inform DER -in "$1" -noout -text | tr -d ' ' | grep -qix "SerialNumber:$2"; }
# both_list SERIAL: wait up to 6 s (crl-check-interval 1) until both files list it.
both_list() {
	for _ in $(seq 60); do
		lists "$FILE1" "$1" && lists "$FILE2" "$1" && return 0
		sleep 0.1
	done
	return 1
}

# The operator's side: revoke through estadm on node 1, which makes the CRL itself.
enrol_demo alice
s1=$(serial_of alice.pem)
"${ADM[@]}" cert revoke "$s1" --reason keyCompromise >/dev/null
lists "$FILE1" "$s1" || fail "estadm did not write node 1's crl-file"
both_list "$s1" || fail "node 2's crl-file does not list $s1, revoked with estadm on node 1 (CRL $(number_of "$FILE1") there, $(number_of "$FILE2") on node 2)"
[ "$(number_of "$FILE1")" = "$(number_of "$FILE2")" ] || fail "the nodes publish different CRL numbers"
ok "a revocation made with estadm on one node reaches the other node's crl-file at its next check"

# The attacker's wish: a revocation the nodes race to publish. Revoked behind both
# keepers' backs, one of them makes the CRL; the other's file must follow it.
enrol_demo bob
s2=$(serial_of bob.pem)
# The store writes a serial without leading zeros.
[ -n "$(psql_su "UPDATE certs SET status = 'revoked', revoked_at = extract(epoch from now())::bigint,
    revocation_reason = 1 WHERE serial = '$(echo "$s2" | sed 's/^0*//')' RETURNING serial" estkit)" ] ||
    fail "bob's certificate $s2 is not in the store"
both_list "$s2" || fail "after a revocation one keeper published: node 1 $(number_of "$FILE1"), node 2 $(number_of "$FILE2")"
[ "$(number_of "$FILE1")" = "$(number_of "$FILE2")" ] || fail "the nodes publish different CRL numbers"
cmp -s "$FILE1" "$FILE2" || fail "the nodes publish different CRLs of one number"
ok "whichever node makes the CRL, both crl-files hold it (one number, the same bytes)"

# A release from hold (estadm cert unrevoke) travels the same way: held with estadm on
# node 1, released with an estadm on node 2 that cannot read the CA key, so one of the
# keepers makes the CRL, and both files must stop listing it.
enrol_demo carol
s3=$(serial_of carol.pem)
"${ADM[@]}" cert revoke "$s3" --reason certificateHold >/dev/null
both_list "$s3" || fail "the nodes' crl-files do not list carol, on hold"
held=$(number_of "$FILE1")
sed 's/^key = ca.key$/key = nowhere.key/' "$T/var2/estd.conf" > "$T/var2/nokey.conf"
"$ESTADM" -c "$T/var2/nokey.conf" cert unrevoke "$s3" > /dev/null 2> unrevoke.err ||
    fail "cert unrevoke on node 2: $(cat unrevoke.err)"
for _ in $(seq 60); do
	! lists "$FILE1" "$s3" && ! lists "$FILE2" "$s3" && break
	sleep 0.1
done
lists "$FILE1" "$s3" && fail "node 1's crl-file still lists carol after her release on node 2"
lists "$FILE2" "$s3" && fail "node 2's crl-file still lists carol after her release"
[ "$(printf %d "$(number_of "$FILE1")")" -gt "$(printf %d "$held")" ] || fail "no new CRL after the release"
cmp -s "$FILE1" "$FILE2" || fail "the nodes publish different CRLs after the release"
openssl ocsp -issuer "$TA" -cert carol.pem -url "http://127.0.0.1:$HTTP_PORT/ocsp" -CAfile "$TA" 2>&1 |
    grep_all 'carol.pem: good' || fail "node 1's OCSP does not say carol is good again"
ok "a release from hold made on one node leaves both nodes' crl-files (a keeper makes the CRL)"

kill -TERM "$ESTD2_PID"
wait "$ESTD2_PID" || fail "node 2 did not stop cleanly"
grep -qE 'Sanitizer|runtime error:' estd2.log && fail "node 2: $(grep -E -m3 'Sanitizer|runtime error:' estd2.log)"
finish
