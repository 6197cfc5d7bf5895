#!/usr/bin/env bash
# TLS sessions resume (EST-G-06), from a cache in estd, bounded. A client
# resumes on TLS 1.3 (the ticket names the cached session) and on TLS 1.2
# (the session id), with and without a client certificate, whether it ended
# its last connection with close_notify or by closing the socket, as many
# do (OpenSSL would drop such a session: estd keeps it). The attacker's
# side: handshakes cannot grow the cache without bound; a session made
# before 1,100 others is gone (1,024 are kept), one made after resumes.
# The SRP listener, which must resume nothing, is test_srp's.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
enrol_demo dev
PY=(python3 "$ESTKIT_SRC/tests/integration/tls_resume.py" "$TA")

for v in 1.3 1.2; do
	for how in dirty clean; do
		got=$("${PY[@]}" "$MTLS_PORT" "$v" "$how" dev.pem dev.key) ||
			fail "TLS $v $how, client certificate: the script failed"
		[ "$got" = reused ] || fail "TLS $v, client certificate, closed $how: session $got (EST-G-06)"
	done
	got=$("${PY[@]}" "$TLS_PORT" "$v" dirty) || fail "TLS $v: the script failed"
	[ "$got" = reused ] || fail "TLS $v, closed without close_notify: session $got (EST-G-06)"
done
ok "sessions resume on TLS 1.3 and 1.2, with and without a client certificate, however closed (EST-G-06)"

# A client certificate's session resumes into an enrolment it authenticates.
"$ESTKIT_BIN/estbench" --cacert "$TA" --cert dev.pem --key dev.key --connection resume \
    -c 1 -n 5 "https://127.0.0.1:$MTLS_PORT" > resume.out || fail "estbench: $(cat resume.out)"
grep_all '"enrolments":5,.*"errors":{}.*"handshakes":5,"resumed":5' resume.out ||
	fail "enrolments on resumed sessions: $(tail -n 1 resume.out)"
ok "an enrolment authenticated by the client certificate of a resumed session"

# The path a full handshake validated goes with its session, so a resumed
# session's requests skip checking its signatures again (unit/test_tls_session);
# the rest of the check stays per request: a certificate revoked after its
# session was made is refused on that session resumed.
for v in 1.3 1.2; do
	enrol_demo "dev$v"
	mkcsr "renew$v" -subj "/CN=dev$v"
	serial=$(openssl x509 -in "dev$v.pem" -noout -serial | cut -d= -f2)
	got=$("${PY[@]}" "$MTLS_PORT" "$v" reenroll "dev$v.pem" "dev$v.key" "renew$v.b64" \
	    "$ESTADM" -c "$T/var/estd.conf" cert revoke "$serial") ||
		fail "TLS $v: revocation between resumptions: the script failed"
	[ "$got" = "reused 200
reused 403" ] || fail "TLS $v: re-enrolments on a resumed session, before and after its certificate's revocation: $got"
done
ok "a resumed session's certificate revoked since is refused (TLS 1.3 and 1.2)"

got=$("${PY[@]}" "$TLS_PORT" 1.3 flood 1100) || fail "flood: the script failed"
[ "$got" = "new reused" ] ||
	fail "after 1,100 other handshakes the first session and a new one: $got (want: new reused)"
ok "1,100 handshakes later the first session is gone and a new one resumes: the cache is bounded"
finish
