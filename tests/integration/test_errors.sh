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

expect_status 401 "no credentials (EST-S-21)" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64
hdr=$(curl -s -D - -o body.txt --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 "$EST/simpleenroll")
echo "$hdr" | grep_all -i '^WWW-Authenticate: Digest realm="estkit".*algorithm=SHA-256' || fail "no Digest SHA-256 challenge"
echo "$hdr" | grep_all -i '^WWW-Authenticate: Digest realm="estkit".*algorithm=MD5' || fail "no Digest MD5 challenge"
echo "$hdr" | grep_all -i '^WWW-Authenticate: Basic realm="estkit"' || fail "no Basic challenge"
echo "$hdr" | grep_all -i '^Content-Type: text/plain' || fail "error body is not text/plain (EST-G-14)"
ok "401 carries Digest (SHA-256, MD5) and Basic challenges (EST-S-22, EST-S-23)"

expect_status 401 "wrong password, Basic" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --basic -u estuser:wrong
expect_status 401 "wrong password, Digest" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --digest -u estuser:wrong
expect_status 401 "unknown user" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev.b64 --basic -u nobody:estpwd
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
expect_status 200 "Content-Transfer-Encoding: binary is ignored (EST-G-11)" "$EST/simpleenroll" "${PK[@]}" \
    -H 'Content-Transfer-Encoding: binary' --data-binary @dev.b64 "${AUTH[@]}"
expect_status 200 "media type matched case-insensitively (EST-G-13)" "$EST/simpleenroll" \
    -H 'Content-Type: Application/PKCS10' --data-binary @dev.b64 "${AUTH[@]}"
expect_status 415 "wrong Content-Type (EST-S-07)" "$EST/simpleenroll" -H 'Content-Type: text/plain' \
    --data-binary @dev.b64 "${AUTH[@]}"

# Methods and paths (EST-S-05, EST-S-06).
expect_status 405 "GET /simpleenroll" "$EST/simpleenroll"
curl -s -D - -o /dev/null --cacert "$TA" -X POST "$EST/cacerts" | grep_all -i '^Allow: GET' || fail "405 without Allow"
expect_status 405 "POST /cacerts" "$EST/cacerts" -X POST
expect_status 404 "unknown alias" "$EST/nosuchlabel/cacerts"
expect_status 404 "two labels" "$EST/a/b/cacerts"
expect_status 404 "unknown operation" "$EST/nosuchop"
expect_status 404 "label named like an operation (EST-S-04)" "$EST/cacerts/cacerts"
expect_status 404 "outside /.well-known/est" "https://127.0.0.1:$TLS_PORT/index.html"
expect_status 200 "the default alias by its name (EST-S-03)" "$EST/est/cacerts"
expect_status 501 "/fullcmc is not offered (EST-S-02)" "$EST/fullcmc" -X POST \
    -H 'Content-Type: application/pkcs7-mime; smime-type=CMC-request' --data x "${AUTH[@]}"

# Plain HTTP serves /cacerts only.
expect_status 200 "plain HTTP /cacerts" "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts"
expect_status 403 "plain HTTP /simpleenroll refused" "http://127.0.0.1:$HTTP_PORT/.well-known/est/simpleenroll" \
    "${PK[@]}" --data-binary @dev.b64 -u estuser:estpwd

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
ok "TLS 1.1 refused (EST-G-02)"
openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_2 -CAfile "$TA" </dev/null 2>/dev/null | grep_all 'Verify return code: 0' \
    || fail "TLS 1.2 handshake failed"
ok "TLS 1.2 accepted, server certificate verifies (EST-G-04)"
if openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_2 -cipher 'aNULL:eNULL:EXPORT:DES:@SECLEVEL=0' </dev/null >/dev/null 2>&1; then
	fail "NULL/anonymous/export cipher accepted"
fi
ok "NULL, anonymous, export and DES suites refused (EST-G-03)"

finish
