#!/usr/bin/env bash
# RFC 7030 §3.5 linking on an alias with channel-binding = tls-unique
# (est-conformance.md EST-S-32, EST-S-35, EST-S-36, CB-05): the CSR's
# challengePassword must be base64 of the tls-unique of the connection that
# carries it. python3's ssl module gives the client's value on TLS 1.2.
. "$(dirname "$0")/lib.sh"

init_demo
cat >> "$T/var/estd.conf" <<'CONF'

[alias bound]
ca = ManagementCA
profile = tls-client
authentication = http
channel-binding = tls-unique
CONF
start_estd
cd "$T"
PY=(python3 "$ESTKIT_SRC/tests/integration/tls_unique_enroll.py" "$TA" "$TLS_PORT"
    /.well-known/est/bound/simpleenroll estuser:estpwd "$T")

got=$("${PY[@]}" same)
[ "$got" = 200 ] || fail "CSR linked to its own connection gave $got (EST-S-32)"
ok "tls-unique of the same connection in challengePassword: enrolled (EST-S-32, EST-S-35)"

got=$("${PY[@]}" resumed)
[ "$got" = 200 ] || fail "CSR linked to its resumed connection gave $got (EST-S-35)"
ok "tls-unique of a resumed connection (the server's Finished): enrolled (EST-S-35)"

got=$("${PY[@]}" other)
[ "$got" = 403 ] || fail "CSR linked to another connection gave $got"
grep -q "not this TLS connection's channel binding" estd.log || fail "the log does not say why"
ok "tls-unique of another connection: refused (EST-S-32)"

mkcsr plain
expect_status 403 "no challengePassword on a linking alias (EST-S-33)" "$EST/bound/simpleenroll" \
    -H 'Content-Type: application/pkcs10' --data-binary @plain.b64 -u estuser:estpwd
finish
