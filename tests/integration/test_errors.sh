#!/usr/bin/env bash
# Bad requests get the right status and a one-line reason (DESIGN.md "HTTP
# errors", est-conformance.md §1, §2, §5, §7); TLS floor and ciphers.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
mkcsr dev
AUTH=(-u estuser:estpwd --anyauth)
PK=(-H 'Content-Type: application/pkcs10')

# Operations live under the well-known prefix, and nowhere else (EST-S-01).
expect_status 200 "/cacerts under /.well-known/est/, never 204 (EST-S-01, EST-S-16)" "$EST/cacerts"
expect_status 404 "a prefix one letter longer (EST-S-01)" "https://127.0.0.1:$TLS_PORT/.well-known/estx/cacerts"
expect_status 404 "an operation without the prefix (EST-S-01)" "https://127.0.0.1:$TLS_PORT/cacerts"
expect_status 404 "a dot segment out of the prefix and back (EST-S-01)" \
    "https://127.0.0.1:$TLS_PORT/.well-known/est/../est/cacerts" --path-as-is

# Each operation answers with its fixed media type (EST-G-09); csrattrs and
# serverkeygen are checked in their own tests.
curl -s -D - -o /dev/null --cacert "$TA" "$EST/cacerts" | tr -d '\r' \
    | grep_all -xE 'Content-Type: application/pkcs7-mime(; smime-type=certs-only)?' \
    || fail "/cacerts is not application/pkcs7-mime (EST-G-09)"
curl -s -D - -o /dev/null --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 "${AUTH[@]}" "$EST/simpleenroll" \
    | tr -d '\r' | grep_all -x 'Content-Type: application/pkcs7-mime; smime-type=certs-only' \
    || fail "/simpleenroll is not application/pkcs7-mime; smime-type=certs-only (EST-G-09)"
ok "/cacerts answers application/pkcs7-mime, /simpleenroll with smime-type=certs-only (EST-G-09)"

expect_status 401 "no credentials (EST-S-21)" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64
hdr=$(curl -s -D - -o body.txt --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 "$EST/simpleenroll")
echo "$hdr" | grep_all -i '^WWW-Authenticate: Digest realm="estkit".*algorithm=SHA-256' || fail "no Digest SHA-256 challenge"
echo "$hdr" | grep_all -i '^WWW-Authenticate: Digest realm="estkit".*algorithm=MD5' || fail "no Digest MD5 challenge"
echo "$hdr" | grep_all -i '^WWW-Authenticate: Basic realm="estkit"' || fail "no Basic challenge"
echo "$hdr" | grep_all -i '^Content-Type: text/plain' || fail "error body is not text/plain (EST-G-14, EST-E-03)"
ok "401 carries Digest (SHA-256, MD5) and Basic challenges (EST-S-22, EST-S-23)"

expect_status 401 "wrong password, Basic" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --basic -u estuser:wrong
expect_status 401 "wrong password, Digest" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --digest -u estuser:wrong
expect_status 401 "unknown user" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --basic -u nobody:estpwd
# estd has no password without a user (EST-S-26 is a MAY it does not take: an enrolment
# code sits in the CSR, a password belongs to a user): an empty user name is an unknown one.
expect_status 401 "an empty user name with the demo password (EST-S-26)" "$EST/simpleenroll" "${PK[@]}" \
    --data-binary @dev.b64 --basic -u :estpwd
expect_status 401 "an empty user name, Digest (EST-S-26)" "$EST/simpleenroll" "${PK[@]}" \
    --data-binary @dev.b64 --digest -u :estpwd
# Failed authentication answers the same whatever was wrong; the log says which.
a=$(curl -s --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 --basic -u estuser:wrong "$EST/simpleenroll")
b=$(curl -s --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 --basic -u nobody:estpwd "$EST/simpleenroll")
[ "$a" = "$b" ] || fail "wrong password and unknown user answer differently: '$a' vs '$b'"
grep -q "wrong password for 'estuser'" estd.log || fail "log does not say the password was wrong"
grep -q "no such user 'nobody'" estd.log || fail "log does not say the user is unknown"
ok "wrong password and unknown user look the same to the client, differ in the log"

echo 'this is not a CSR' > garbage.txt
expect_status 400 "garbage body" "$EST/simpleenroll" "${PK[@]}" --data-binary @garbage.txt "${AUTH[@]}"
curl -s --cacert "$TA" "${PK[@]}" --data-binary @garbage.txt "${AUTH[@]}" "$EST/simpleenroll" > reason.txt
[ "$(wc -l < reason.txt)" = 1 ] || fail "reason is not one line: $(cat reason.txt)"
ok "400 reason is one line: $(cat reason.txt)"
expect_status 400 "empty body" "$EST/simpleenroll" "${PK[@]}" --data-binary @/dev/null "${AUTH[@]}"

b64d < dev.b64 | python3 -c 'import sys;d=bytearray(sys.stdin.buffer.read());d[-3]^=1;sys.stdout.buffer.write(d)' \
    | openssl base64 > bad.b64
expect_status 400 "CSR with a broken signature (EST-S-31)" "$EST/simpleenroll" "${PK[@]}" --data-binary @bad.b64 "${AUTH[@]}"

# Body forms (EST-G-10, EST-G-11, EST-G-12, pitfall 1, 4).
b64d < dev.b64 > dev.der
tr -d '\n' < dev.b64 > oneline.b64
b64d < dev.b64 | openssl base64 -A | fold -w76 | sed 's/$/\r/' > crlf76.b64
for f in dev.b64 oneline.b64 crlf76.b64 dev.der dev.csr; do
	expect_status 200 "body as $f" "$EST/simpleenroll" "${PK[@]}" --data-binary @$f "${AUTH[@]}"
done
expect_status 200 "Content-Transfer-Encoding: binary is ignored (EST-G-11, EST-E-02)" "$EST/simpleenroll" "${PK[@]}" \
    -H 'Content-Transfer-Encoding: binary' --data-binary @dev.b64 "${AUTH[@]}"
expect_status 200 "media type matched case-insensitively (EST-G-13)" "$EST/simpleenroll" \
    -H 'Content-Type: Application/PKCS10' --data-binary @dev.b64 "${AUTH[@]}"
expect_status 415 "wrong Content-Type (EST-S-07)" "$EST/simpleenroll" -H 'Content-Type: text/plain' \
    --data-binary @dev.b64 "${AUTH[@]}"

# Methods and paths (EST-S-05, EST-S-06).
expect_status 405 "GET /simpleenroll" "$EST/simpleenroll"
curl -s -D - -o /dev/null --cacert "$TA" -X POST "$EST/cacerts" | grep_all -i '^Allow: GET' || fail "405 without Allow"
expect_status 405 "POST /cacerts" "$EST/cacerts" -X POST
expect_status 404 "unknown alias: no CA for that label (EST-S-16)" "$EST/nosuchlabel/cacerts"
expect_status 404 "two labels" "$EST/a/b/cacerts"
expect_status 404 "unknown operation" "$EST/nosuchop"
# RFC 8295's extra paths (EST-X-01) are not offered: an unknown operation, as any other.
expect_status 404 "RFC 8295 package availability list, not offered (EST-X-01)" "$EST/pal"
expect_status 404 "label named like an operation (EST-S-04)" "$EST/cacerts/cacerts"
expect_status 404 "outside /.well-known/est" "https://127.0.0.1:$TLS_PORT/index.html"
expect_status 200 "the default alias by its name (EST-S-03)" "$EST/est/cacerts"
expect_status 501 "/fullcmc is not offered (EST-S-02)" "$EST/fullcmc" -X POST \
    -H 'Content-Type: application/pkcs7-mime; smime-type=CMC-request' --data x "${AUTH[@]}"
# /fullcmc (EST-S-80..83) is not implemented: its 501 is a plain-text reason (EST-G-14), never a
# CMC response, and does not depend on the body or on who asks.
hdr=$(curl -s -D - -o fullcmc.txt --cacert "$TA" -X POST -H 'Content-Type: application/pkcs7-mime; smime-type=CMC-request' \
    --data-binary @dev.b64 "$EST/fullcmc" | tr -d '\r')
echo "$hdr" | grep_all '^HTTP/[0-9.]* 501' || fail "/fullcmc without credentials: $(echo "$hdr" | head -1)"
echo "$hdr" | grep_all -i '^Content-Type: text/plain' || fail "/fullcmc's 501 is not text/plain"
grep_all -x '/fullcmc is not offered by this server' fullcmc.txt || fail "/fullcmc's reason: $(cat fullcmc.txt)"
ok "/fullcmc: 501 with a text/plain reason, no CMC response (EST-S-80, EST-S-81, EST-S-82, EST-S-83)"

# Plain HTTP serves /cacerts only. Serving /cacerts there departs from EST-G-01 on purpose:
# the EJBCA guide's layout has it (README.md, docs/configuration.md [listener] tls = none),
# and a listener with tls = none is configured, never implied.
expect_status 200 "plain HTTP /cacerts (not EST-G-01: the EJBCA layout)" "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts"
expect_status 403 "plain HTTP /simpleenroll refused (EST-G-01)" "http://127.0.0.1:$HTTP_PORT/.well-known/est/simpleenroll" \
    "${PK[@]}" --data-binary @dev.b64 -u estuser:estpwd
# HTTP authentication only inside TLS (EST-S-24): over plain HTTP no operation asks for
# credentials (a challenge would invite a password in the clear), and sent ones admit nothing.
for op in simpleenroll simplereenroll serverkeygen; do
	hdr=$(curl -s -D - -o /dev/null "${PK[@]}" --data-binary @dev.b64 --basic -u estuser:estpwd \
	    "http://127.0.0.1:$HTTP_PORT/.well-known/est/$op" | tr -d '\r')
	echo "$hdr" | grep_all '^HTTP/[0-9.]* 403' || fail "plain HTTP /$op with Basic: $(echo "$hdr" | head -1)"
	if echo "$hdr" | grep -qi '^WWW-Authenticate:'; then
		fail "plain HTTP /$op asks for credentials (EST-S-24)"
	fi
done
expect_status 403 "plain HTTP /csrattrs refused (EST-G-01)" "http://127.0.0.1:$HTTP_PORT/.well-known/est/csrattrs"
ok "no HTTP authentication over plain HTTP: 403, no challenge (EST-S-24)"

# Body size limit. With Expect: 100-continue the 413 comes before the body is sent; without
# it, estd closes while curl is still sending, and under load the reset can reach curl
# before the 413 does (curl then reports 000).
head -c 100000 /dev/zero | tr '\0' A > big.b64
expect_status 413 "body over 64 KiB" "$EST/simpleenroll" "${PK[@]}" -H 'Expect: 100-continue' \
    --data-binary @big.b64 --basic -u estuser:estpwd

# Keys we certify, and one we do not.
for spec in "rsa:2048" "rsa:4096" "ec -pkeyopt ec_paramgen_curve:P-384" "ed25519"; do
	# shellcheck disable=SC2086
	openssl req -new -newkey $spec -nodes -keyout k.pem -subj /CN=keytest -outform DER -out k.der 2>/dev/null
	expect_status 200 "CSR with key $spec" "$EST/simpleenroll" "${PK[@]}" --data-binary @k.der "${AUTH[@]}"
done
openssl req -new -newkey rsa:1024 -nodes -keyout k.pem -subj /CN=weak -outform DER -out weak.der 2>/dev/null
expect_status 400 "CSR with RSA 1024 refused" "$EST/simpleenroll" "${PK[@]}" --data-binary @weak.der "${AUTH[@]}"

# TLS floor and ciphers (EST-G-02, EST-G-03).
if openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_1 </dev/null >/dev/null 2>&1; then
	fail "TLS 1.1 accepted"
fi
ok "TLS 1.1 refused (EST-G-02, EST-E-04)"
openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_2 -CAfile "$TA" </dev/null 2>/dev/null | grep_all 'Verify return code: 0' \
    || fail "TLS 1.2 handshake failed"
ok "TLS 1.2 accepted, server certificate verifies (EST-G-04)"
if openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_2 -cipher 'aNULL:eNULL:EXPORT:DES:@SECLEVEL=0' </dev/null >/dev/null 2>&1; then
	fail "NULL/anonymous/export cipher accepted"
fi
ok "NULL, anonymous, export and DES suites refused (EST-G-03)"

# Session resumption (EST-G-06), by tickets, on TLS 1.2 and 1.3. A ticket is its listener's:
# one from the listener without client certificates does not resume on the mutual-TLS one,
# where it would skip the certificate the handshake demands.
# The first connection reads until estd closes it, so the ticket (TLS 1.3 sends it after the
# handshake) has surely come.
for v in tls1_2 tls1_3; do
	printf 'GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' \
	    | openssl s_client -connect 127.0.0.1:$TLS_PORT -$v -CAfile "$TA" -ign_eof -sess_out sess-$v.pem \
	    >/dev/null 2>&1 || fail "$v handshake for a session ticket failed"
	echo | openssl s_client -connect 127.0.0.1:$TLS_PORT -$v -CAfile "$TA" -sess_in sess-$v.pem 2>/dev/null \
	    | grep_all '^Reused' || fail "$v session not resumed (EST-G-06)"
	if echo | openssl s_client -connect 127.0.0.1:$MTLS_PORT -$v -CAfile "$TA" -sess_in sess-$v.pem 2>/dev/null \
	    | grep -q '^Reused'; then
		fail "$v session of the TLS listener resumed on the mutual-TLS listener"
	fi
done
ok "TLS 1.2 and 1.3 sessions resume on their listener, not on another (EST-G-06)"

finish
