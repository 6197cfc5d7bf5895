#!/usr/bin/env bash
# RFC 7030 §3.5 linking on an alias with channel-binding = tls-unique
# (est-conformance.md EST-S-32, EST-S-35, EST-S-36, CB-05): the CSR's
# challengePassword must be base64 of the tls-unique of the connection that
# carries it: tls-unique on TLS 1.2 (python3's ssl module gives the client's
# value), the RFC 9266 tls-exporter on TLS 1.3 (openssl s_client -keymatexport).
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
ok "tls-unique of the same connection in challengePassword: enrolled (EST-S-30, EST-S-32, EST-S-35)"

got=$("${PY[@]}" resumed)
[ "$got" = 200 ] || fail "CSR linked to its resumed connection gave $got (EST-S-35)"
ok "tls-unique of a resumed connection (the server's Finished): enrolled (EST-S-35, EST-G-06)"

got=$("${PY[@]}" other)
[ "$got" = 403 ] || fail "CSR linked to another connection gave $got"
grep -q "not this TLS connection's channel binding" estd.log || fail "the log does not say why"
ok "tls-unique of another connection: refused (EST-S-30, EST-S-32)"

got=$("${PY[@]}" suffixed)
[ "$got" = 403 ] || fail "the right tls-unique with one more character gave $got"
ok "the right tls-unique with a character appended: refused, no prefix match (EST-S-36)"

# TLS 1.3 has no tls-unique (CB-02): the Finished-based value of the very connection that
# carries the CSR (44 characters there, as long as the exporter's) does not link it.
refusals=$(grep -c "not this TLS connection's channel binding" estd.log)
got=$("${PY[@]}" finished13)
[ "$got" = 403 ] || fail "TLS 1.3 with the connection's own Finished value gave $got (CB-02)"
[ "$(grep -c "not this TLS connection's channel binding" estd.log)" = $((refusals + 1)) ] \
    || fail "the log does not say why"
ok "TLS 1.3: the Finished-based tls-unique of the same connection is refused (CB-02)"

# TLS 1.3 (CB-05): base64 of the RFC 9266 tls-exporter value, from openssl
# s_client's -keymatexport, on the connection that then carries the POST.
mkfifo in13
openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_3 -CAfile "$TA" -keymatexport EXPORTER-Channel-Binding \
    -keymatexportlen 32 -ign_eof <in13 >out13 2>/dev/null &
S13=$!
exec 3>in13
for _ in $(seq 50); do grep -q 'Keying material:' out13 && break; sleep 0.1; done
hex=$(sed -n 's/^ *Keying material: *//p' out13)
[ ${#hex} = 64 ] || fail "no tls-exporter value from s_client: $(head -c 300 out13)"
cb=$(python3 -c 'import base64,sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())' "$hex")
printf '[req]\nprompt = no\ndistinguished_name = dn\nattributes = a\n[dn]\nCN = bound13\n[a]\nchallengePassword = %s\n' \
    "$cb" > cb13.conf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cb13.key -config cb13.conf \
    -outform DER 2>/dev/null | openssl base64 -A > cb13.b64
printf 'POST /.well-known/est/bound/simpleenroll HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/pkcs10\r\nAuthorization: Basic %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
    "$(printf estuser:estpwd | openssl base64 -A)" "$(wc -c < cb13.b64)" "$(cat cb13.b64)" >&3
exec 3>&-
wait $S13 || true
grep -q '^HTTP/1.1 200' out13 || fail "TLS 1.3 enrolment with the tls-exporter value: $(grep '^HTTP' out13)"
[ ${#cb} = 44 ] || fail "the exporter value is not 44 characters of base64"
# It rides in challengePassword like tls-unique: no CSR attribute OID is invented (CB-04).
ok "TLS 1.3: the 44-character tls-exporter value in challengePassword links the CSR (CB-01, CB-04, CB-05)"

# TLS 1.3 with the exporter value of another connection: refused.
printf '[req]\nprompt = no\ndistinguished_name = dn\nattributes = a\n[dn]\nCN = bound13b\n[a]\nchallengePassword = %s\n' \
    "$cb" > cb13b.conf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cb13b.key -config cb13b.conf \
    -outform DER 2>/dev/null | openssl base64 -A > cb13b.b64
expect_status 403 "TLS 1.3: another connection's tls-exporter value (CB-05)" "$EST/bound/simpleenroll" \
    --tlsv1.3 -H 'Content-Type: application/pkcs10' --data-binary @cb13b.b64 -u estuser:estpwd

mkcsr plain
expect_status 403 "no challengePassword on a linking alias (EST-S-33)" "$EST/bound/simpleenroll" \
    -H 'Content-Type: application/pkcs10' --data-binary @plain.b64 -u estuser:estpwd
finish
