#!/usr/bin/env bash
# estclient against a scripted server (stub_est.py) for what estd does not
# serve yet: /serverkeygen (seed 004, plain and encrypted key), /csrattrs,
# 202 + Retry-After, 5xx; and what a client must never do: talk to an
# unauthenticated server, answer a challenge on another connection, accept
# a certificate for another key or a name only in the CN.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

cd "$T"
make_stub_pki
export EST_OPENSSL_CACERT=$T/ca.pem
CRLF=$'\r'
W=/.well-known/est

# Canned bodies. The server-generated key is RSA, as in seed 004.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out srvkey.pem 2>/dev/null
openssl pkey -in srvkey.pem -outform DER -out srvkey.der
cert_for srvkey.pem registered_client srvkey-cert.pem
certs_only srvkey-cert.pem srvkey-cert.b64
openssl base64 -in srvkey.der -out srvkey.b64
certs_only ca.pem cacerts.b64
# multipart BOUNDARY KEYTYPE KEYFILE > body: key part first, CRLF (RFC 7030 §4.4.2).
multipart() {
	printf -- '--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n' "$1" "$2"
	sed "s/\$/$CRLF/" "$3"
	printf -- '--%s\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n\r\n' "$1"
	sed "s/\$/$CRLF/" srvkey-cert.b64
	printf -- '--%s--\r\n' "$1"
}
multipart est-server-boundary application/pkcs8 srvkey.b64 > keygen.body
# Certificate part first, a preamble, LF line ends, quoted boundary (EST-C-60).
{ printf 'preamble\n--xyz\nContent-Type: application/pkcs7-mime\n\n'; cat srvkey-cert.b64
  printf -- '--xyz\ncontent-type: Application/PKCS8\n\n'; cat srvkey.b64; printf -- '--xyz--\nepilogue\n'; } > keygen-lenient.body

script() { # NAME JSON: $T/NAME.json
	printf '%s\n' "$2" > "$T/$1.json"
}
P7='"Content-Type": "application/pkcs7-mime; smime-type=certs-only"'
MP='"Content-Type": "multipart/mixed; boundary=est-server-boundary"'
script main '{
 "GET '$W'/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/serverkeygen": [{"status": 200, "headers": {'"$MP"'}, "body_file": "keygen.body"}],
 "POST '$W'/est/serverkeygen": [{"status": 200, "headers": {"Content-Type": "multipart/mixed; boundary=\"xyz\""}, "body_file": "keygen-lenient.body"}]
}'
start_stub main.json srv.pem srv.key --client-ca ca.pem

# ---- seed 004, server-side key generation, verbatim -------------------------
openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -outform DER -subj "/CN=registered_client" 2>/dev/null
openssl base64 -in device.csr -out device.b64 -e
mkdir outputDirName
ec -q -s 127.0.0.1 -p $STUB_PORT -o outputDirName --pem-output --common-name registered_client -x device.key -v
expect_rc 0 "seed 004: estclient -q --common-name -x device.key --pem-output"
openssl x509 -in "outputDirName/cert-0-0.pem" -noout -text > cert.txt || fail "cert-0-0.pem unreadable"
grep -q 'Subject: CN = registered_client' cert.txt || fail "wrong certificate"
openssl rsa -in device.key -check -noout >/dev/null
openssl rsa -in outputDirName/key-0-0.key -check -noout >/dev/null || fail "key-0-0.key is not an RSA key openssl reads"
[ "$(openssl rsa -in outputDirName/key-0-0.key -noout -modulus)" = "$(openssl x509 -in outputDirName/cert-0-0.pem -noout -modulus)" ] \
    || fail "key-0-0.key does not match cert-0-0.pem"
[ "$(openssl rsa -in outputDirName/key-0-0.key -noout -modulus)" != "$(openssl rsa -in device.key -noout -modulus)" ] \
    || fail "the key is the request's, not the server's"
[ "$(stat -c %a outputDirName/key-0-0.key)" = 600 ] || fail "key-0-0.key is not mode 0600"
ok "seed 004: openssl reads cert-0-0.pem and key-0-0.key (0600); the key is the server's (EST-S-64)"
# The request: POST /serverkeygen, application/pkcs10, a CSR signed by device.key (EST-C-50).
[ "$(stub_field -1 method) $(stub_field -1 path)" = "POST $W/serverkeygen" ] || fail "not a POST /serverkeygen"
stub_field -1 headers | grep_all '"Content-Type": "application/pkcs10"' || fail "request Content-Type"
stub_csr -1 sent.der
openssl req -inform DER -in sent.der -verify -noout 2>&1 | grep_all 'verify OK' || fail "CSR does not verify"
[ "$(openssl req -inform DER -in sent.der -noout -pubkey)" = "$(openssl pkey -in device.key -pubout)" ] || fail "CSR not signed by -x"
openssl req -inform DER -in sent.der -noout -subject | grep_all 'CN = registered_client' || fail "CSR subject"
ok "the request CSR is base64 DER, signed by -x (its own key, EST-C-42), CN from --common-name (EST-C-50)"

# Without --pem-output: key-0-0.key is the bare base64 PKCS#8 libest writes; the
# seed's manual step (add BEGIN/END lines) makes it a key openssl reads.
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --common-name registered_client -x device.key
expect_rc 0 "estclient -q without --pem-output"
! grep -q -- '-----' key-0-0.key || fail "key-0-0.key has PEM armour without --pem-output"
{ echo "-----BEGIN RSA PRIVATE KEY-----"; cat key-0-0.key; echo "-----END RSA PRIVATE KEY-----"; } > enrolled-key.key
openssl rsa -in enrolled-key.key -check -noout >/dev/null || fail "the seed's manual PEM armour does not work"
openssl base64 -d -in cert-0-0.pkcs7 | openssl pkcs7 -inform DER -print_certs -out p7.pem
openssl x509 -in p7.pem -noout -subject | grep_all registered_client || fail "cert-0-0.pkcs7"
ok "key-0-0.key is libest's bare base64 PKCS#8; cert-0-0.pkcs7 decodes with openssl"

# The second seed line: mutual TLS with the generated certificate and key (EST-C-32).
ec -q -s 127.0.0.1 -p $STUB_PORT -o outputDirName --pem-output --common-name registered_client -x device.key -v \
    -c "outputDirName/cert-0-0.pem" -k "outputDirName/key-0-0.key"
expect_rc 0 "seed 004: estclient -q -c cert-0-0.pem -k key-0-0.key"
[ "$(stub_field -1 peer)" = "CN=registered_client" ] || fail "client certificate not presented: $(stub_field -1 peer)"
ok "the client certificate was presented in the handshake (EST-C-32)"

# -q with a ready CSR, and with no key at all (a throwaway key signs).
ec -q -s 127.0.0.1 -p $STUB_PORT -o . -y device.csr
expect_rc 0 "estclient -q -y CSR"
stub_csr -1 sent.der
cmp -s sent.der device.csr || fail "-y CSR was not sent unchanged"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --common-name throwaway
expect_rc 7 "the server issued CN=registered_client for a CSR that asked for CN=throwaway (EST-C-52)"
err_says 'names "CN=registered_client", the request asked for "CN=throwaway"'
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --common-name throwaway --server-names
expect_rc 0 "estclient -q without -x or -y, --server-names: the server chooses the names"
stub_csr -1 sent.der
openssl req -inform DER -in sent.der -verify -noout 2>&1 | grep_all 'verify OK' || fail "throwaway CSR"
[ ! -e key-x-x.pem ] || fail "-q wrote the throwaway key"
ok "-q -y sends the CSR as is; -q alone signs with a throwaway key it does not keep"

# Parts in any order, preamble, LF, quoted boundary, under a label (EST-C-60).
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --path-seg est --common-name registered_client
expect_rc 0 "lenient multipart under --path-seg est"
[ "$(stub_field -1 path)" = "$W/est/serverkeygen" ] || fail "label not in the path"
openssl pkey -in <({ echo "-----BEGIN PRIVATE KEY-----"; cat key-0-0.key; echo "-----END PRIVATE KEY-----"; }) -noout \
    || fail "key from the lenient answer"

# ---- the encrypted server-generated key (RFC 7030 §4.4.2, EST-S-66) ----------
openssl req -x509 -newkey rsa:2048 -nodes -keyout recip.key -out recip.pem -subj "/CN=device-kt" -days 2 \
    -addext subjectKeyIdentifier=hash 2>/dev/null
python3 -c 'import sys
d=open(sys.argv[1],"rb").read()
n=len(d); l=bytes([n]) if n<128 else bytes([0x80|((n.bit_length()+7)//8)])+n.to_bytes((n.bit_length()+7)//8,"big")
open(sys.argv[2],"wb").write(b"\x30"+l+d)' srvkey.der keypkg.der   # AsymmetricKeyPackage
# sealed SIGNER_CERT SIGNER_KEY OUT: the key package signed by SIGNER, encrypted to recip.pem.
sealed() {
	openssl cms -sign -binary -nodetach -in keypkg.der -signer "$1" -inkey "$2" -outform DER \
	    -econtent_type 2.16.840.1.101.2.1.2.78.5 -out signed.der
	openssl cms -encrypt -binary -keyid -aes256 -in signed.der -outform DER -out env.der recip.pem
	openssl base64 -in env.der -out env.b64
	multipart est-server-boundary "application/pkcs7-mime; smime-type=server-generated-key" env.b64 > "$3"
}
sealed ca.pem ca.key keygen-enc.body             # the issuing CA signs, as estd does
issue_tls signer "keyUsage=digitalSignature"
sealed signer.pem signer.key keygen-signer.body  # another certificate under the same CA
issue_tls nosign "keyUsage=keyEncipherment"
sealed nosign.pem nosign.key keygen-nosign.body
script enc '{
 "POST '$W'/serverkeygen": [{"status": 200, "headers": {'"$MP"'}, "body_file": "keygen-enc.body"}],
 "POST '$W'/signer/serverkeygen": [{"status": 200, "headers": {'"$MP"'}, "body_file": "keygen-signer.body"}],
 "POST '$W'/nosign/serverkeygen": [{"status": 200, "headers": {'"$MP"'}, "body_file": "keygen-nosign.body"}],
 "POST '$W'/plain/serverkeygen": [{"status": 200, "headers": {'"$MP"'}, "body_file": "keygen.body"}]
}'
start_stub enc.json srv.pem srv.key
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --pem-output --decrypt-cert recip.pem --decrypt-key recip.key --server-names
expect_rc 0 "-q with --decrypt-cert/--decrypt-key: the encrypted key"
[ "$(openssl pkey -in key-0-0.key -pubout)" = "$(openssl pkey -in srvkey.pem -pubout)" ] || fail "decrypted key differs"
stub_csr -1 sent.der
openssl asn1parse -inform DER -in sent.der | grep_all '1.2.840.113549.1.9.16.2.54' || fail "no AsymmetricDecryptKeyIdentifier"
openssl asn1parse -inform DER -in sent.der | grep_all 'S/MIME Capabilities' || fail "no SMIMECapabilities"
ok "the CSR asks for encryption (EST-S-67, EST-C-61); the key is decrypted and its signature checked (EST-S-66)"
# Attacks on the encrypted key (point 4 of issue 16): each fails closed, nothing written.
rm -f key-0-0.key cert-0-0.pem
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --pem-output --decrypt-cert recip.pem --decrypt-key recip.key \
    --server-names --path-seg plain
expect_rc 7 "asked for an encrypted key, got it in the clear (a downgrade)"
err_says "in the clear"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --pem-output --decrypt-cert recip.pem --decrypt-key recip.key \
    --server-names --path-seg signer
expect_rc 7 "a key package signed by a certificate that is not the issuing CA"
err_says 'signed by "CN=signer"'
[ ! -e key-0-0.key ] && [ ! -e cert-0-0.pem ] || fail "a refused answer was written"
ok "a refused server-generated key leaves no file behind"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --pem-output --decrypt-cert recip.pem --decrypt-key recip.key \
    --server-names --path-seg signer --key-signer signer.pem
expect_rc 0 "--key-signer names the signer of the key package"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --pem-output --decrypt-cert recip.pem --decrypt-key recip.key \
    --server-names --path-seg nosign --key-signer nosign.pem
expect_rc 7 "a configured signer whose keyUsage forbids signing"
err_says "may not sign"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --server-names
expect_rc 1 "an encrypted key without a decryption key"
err_says "encrypted"
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -subj "/CN=other" -days 2 2>/dev/null
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --decrypt-cert other.pem --decrypt-key other.key --server-names
expect_rc 1 "an encrypted key for another recipient"

# ---- /csrattrs (RFC 7030 §4.5, RFC 8951 §5) -----------------------------------
RFC_ATTRS=MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQDAw==
printf '%s\n' "$RFC_ATTRS" > attrs.b64
openssl ecparam -name secp384r1 -genkey -noout -out p384.key
cert_for p384.key dev384 p384.pem
certs_only p384.pem p384.b64
script attrs '{
 "GET '$W'/csrattrs": [{"status": 200, "headers": {"Content-Type": "application/csrattrs"}, "body_file": "attrs.b64"}],
 "GET '$W'/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "p384.b64"}],
 "GET '$W'/none/csrattrs": [{"status": 204}],
 "GET '$W'/gone/csrattrs": [{"status": 404, "body": "no attributes\n"}],
 "GET '$W'/old/csrattrs": [{"status": 501, "body": "not offered\n"}],
 "GET '$W'/old/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/old/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "p384.b64"}],
 "POST '$W'/old/serverkeygen": [{"status": 501, "body": "not offered\n"}]
}'
start_stub attrs.json srv.pem srv.key --tls12
ec -a -s 127.0.0.1 -p $STUB_PORT -o .
expect_rc 0 "estclient -a"
[ "$(b64d < csr-0-0.base64 | openssl base64 -A)" = "$RFC_ATTRS" ] || fail "csr-0-0.base64 differs from the answer"
ok "csr-0-0.base64 holds the attributes (EST-S-91)"
for label in none gone old; do
	ec -a -s 127.0.0.1 -p $STUB_PORT -o . --path-seg $label
	expect_rc 0 "estclient -a, the server has none ($label)"
	[ ! -s csr-0-0.base64 ] || fail "csr-0-0.base64 not empty for $label"
done
ec -a -e -s 127.0.0.1 -p $STUB_PORT -o . -x p384.key --path-seg old --common-name dev384
expect_rc 0 "estclient -a -e, the server does not offer /csrattrs (501): enrolment goes on"
ec -q -s 127.0.0.1 -p $STUB_PORT -o . --path-seg old
expect_rc 6 "estclient -q, the server does not offer /serverkeygen (501)"
err_says "does not offer"
# -a -e -x: the CSR follows the attributes: SHA-384, challengePassword = tls-unique (EST-C-63, EST-S-32).
ec -a -e -s 127.0.0.1 -p $STUB_PORT -o . -u u -h p -x p384.key --common-name dev384 -v
expect_rc 0 "estclient -a -e: CSR built to match the attributes"
err_says "channel binding: tls-unique, TLS 1.2"
stub_csr -1 sent.der
openssl req -inform DER -in sent.der -noout -text > csr.txt
grep -q 'ecdsa-with-SHA384' csr.txt || fail "CSR not signed with SHA-384"
pw=$(sed -n 's/^ *challengePassword *://p' csr.txt | tr -d ' ')
[ -n "$pw" ] && [ "$pw" = "$(stub_field -1 tls_unique)" ] || fail "challengePassword '$pw' is not the POST's tls-unique '$(stub_field -1 tls_unique)'"
[ "$(stub_field -2 path)" = "$W/cacerts" ] && [ "$(stub_field -2 conn)" = "$(stub_field -1 conn)" ] \
    || fail "the CSR was not built on the connection that carried it"
ok "challengePassword is the tls-unique of the connection that carried the CSR (EST-C-40, EST-S-35)"
# -a -e with no key: the key estclient makes follows the attributes (P-384).
ec -a -e -s 127.0.0.1 -p $STUB_PORT -o . -u u -h p
expect_rc 7 "a certificate for another key is refused (EST-C-52)"
err_says "another key"
stub_csr -1 sent.der
openssl req -inform DER -in sent.der -noout -text | grep_all 'NIST CURVE: P-384' || fail "generated key is not P-384"
[ ! -e key-x-x.pem ] || fail "key-x-x.pem written although the enrolment failed"
ok "a key estclient makes follows /csrattrs (P-384); not kept when enrolment fails"

# ---- 202 + Retry-After: wait, retry, rebind (EST-C-70, EST-C-41) ----------------
openssl ecparam -name prime256v1 -genkey -noout -out dev.key
cert_for dev.key dev dev.pem
certs_only dev.pem dev.b64
script pending '{
 "GET '$W'/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/simpleenroll": [
   {"status": 202, "headers": {"Retry-After": "1"}, "close": true},
   {"status": 202, "headers": {"Retry-After": "1"}, "close": true},
   {"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64"}],
 "POST '$W'/later/simpleenroll": [{"status": 202, "headers": {"Retry-After": "1"}}],
 "POST '$W'/broken/simpleenroll": [{"status": 500, "body": "database on fire\n"}],
 "POST '$W'/busy/simpleenroll": [{"status": 503, "headers": {"Retry-After": "30"}, "body": "busy\n"}],
 "POST '$W'/wrongtype/simpleenroll": [{"status": 200, "headers": {"Content-Type": "text/html"}, "body": "<html>"}],
 "POST '$W'/slow/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "delay": 4}],
 "POST '$W'/auth/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": true}],
 "GET '$W'/bearer/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/bearer/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "Bearer realm=\"stub\""}],
 "POST '$W'/nochallenge/simpleenroll": [{"status": 401, "body": "who are you\n"}],
 "POST '$W'/moved/simpleenroll": [{"status": 302, "headers": {"Location": "/.well-known/est/auth/simpleenroll"}}],
 "POST '$W'/away/simpleenroll": [{"status": 307, "headers": {"Location": "https://evil.example:8443/.well-known/est/simpleenroll"}}],
 "GET '$W'/moved/cacerts": [{"status": 301, "headers": {"Location": "/.well-known/est/cacerts"}}],
 "POST '$W'/rfc850/simpleenroll": [{"status": 202, "headers": {"Retry-After": "Sunday, 06-Nov-94 08:49:37 GMT"}},
   {"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64"}],
 "POST '$W'/asctime/simpleenroll": [{"status": 202, "headers": {"Retry-After": "Sun Nov  6 08:49:37 1994"}},
   {"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64"}],
 "POST '$W'/zero/simpleenroll": [{"status": 202, "headers": {"Retry-After": "0"}},
   {"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64"}]
}'
start_stub pending.json srv.pem srv.key --tls12
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --retry-max 3
expect_rc 0 "202, 202, then 200: each new connection authenticated anew, no state kept (EST-C-72, EST-C-73)"
python3 - "$T/stub.log" <<'PY' || fail "retries: wrong waits or bindings"
import json, subprocess, sys, base64
posts = [json.loads(l) for l in open(sys.argv[1]) if '"POST"' in l]
assert len(posts) == 3, len(posts)
for a, b in zip(posts, posts[1:]):
    assert b["time"] - a["time"] >= 1.0, "retried before Retry-After"
pws = []
for p in posts:
    der = base64.b64decode("".join(p["body"].split()))
    txt = subprocess.run(["openssl", "req", "-inform", "DER", "-noout", "-text"], input=der,
                         capture_output=True).stdout.decode()
    pw = [l.split(":", 1)[1].strip() for l in txt.splitlines() if "challengePassword" in l][0]
    assert pw == p["tls_unique"], (pw, p["tls_unique"])
    pws.append(pw)
assert len(set(pws)) == 3, "the CSR was not rebuilt for each new connection"
PY
ok "waited Retry-After between attempts; each CSR bound to its own connection (EST-C-70, EST-C-41)"

ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --path-seg later --retry-max 1
expect_rc 8 "still pending after the last retry"
err_says "202"
mkdir parked
ec -e -s 127.0.0.1 -p $STUB_PORT -o parked --path-seg later --retry-max 0
expect_rc 8 "pending, with a key estclient made"
[ -s parked/key-x-x.pem ] && [ "$(grep -c . "$T/ec.err")" = 1 ] && err_says "parked/key-x-x.pem" || fail "the key of a pending request was not kept"
ok "the key of a pending request is kept for the next try"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --path-seg broken
expect_rc 7 "HTTP 500"
err_says "database on fire"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --path-seg busy
expect_rc 7 "HTTP 503"
err_says "30 s"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --path-seg wrongtype
expect_rc 7 "a 200 that is not PKCS#7"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --path-seg slow -w 1
expect_rc 3 "-w 1: no answer in time"
err_says "in time"

# HTTP authentication: only after the challenge, on the same connection (EST-C-30).
: > "$T/stub.log"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser -h estpwd
expect_rc 0 "Basic credentials after a 401 challenge (EST-C-30, EST-C-33)"
[ "$(stub_count)" = 2 ] || fail "expected 2 requests, got $(stub_count)"
! stub_field 1 headers | grep_all Authorization || fail "credentials sent before the challenge"
stub_field 2 headers | grep_all '"Authorization": "Basic ZXN0dXNlcjplc3Rwd2Q="' || fail "no Basic credentials"
[ "$(stub_field 1 conn)" = "$(stub_field 2 conn)" ] || fail "the challenge was answered on a new connection"
ok "credentials only in answer to the challenge, on the same connection"
# Credentials go out on every request only in answer to its own challenge (EST-C-30, EST-C-31).
: > "$T/stub.log"
printf 'estpwd\n' > pw.txt
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser \
    --password-file pw.txt -i 2
expect_rc 0 "--password-file, two enrolments (-i 2)"
! grep -q 'warning' "$T/ec.err" || fail "--password-file warned: $(cat "$T/ec.err")"
[ "$(stub_count)" = 4 ] || fail "expected 4 requests (2 x challenge + answer), got $(stub_count)"
for n in 1 3; do
	! stub_field $n headers | grep_all Authorization || fail "request $n carried credentials unasked"
	stub_field $((n + 1)) headers | grep_all '"Authorization": "Basic ZXN0dXNlcjplc3Rwd2Q="' \
	    || fail "request $((n + 1)) did not answer the challenge"
done
ok "each request first goes out without credentials; Basic only answers its own 401 (EST-C-31)"
: > "$T/stub.log"
ESTPW=estpwd ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth \
    -u estuser --password-env ESTPW
expect_rc 0 "--password-env"
stub_field -1 headers | grep_all '"Authorization": "Basic ZXN0dXNlcjplc3Rwd2Q="' || fail "--password-env"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser -h estpwd
expect_rc 0 "-h still works (libest's command lines)"
err_says "warning: -h puts the password where other users can see it"
: > "$T/stub.log"
printf 't0k3n\n' > token.txt
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg bearer --auth-token-file token.txt
expect_rc 0 "--auth-token-file, with -z (a /cacerts probe first)"
[ "$(stub_field 1 path)" = "$W/bearer/cacerts" ] || fail "no /cacerts probe"
! stub_field 1 headers | grep_all Authorization || fail "the token went to the /cacerts probe unasked"
! stub_field 2 headers | grep_all Authorization || fail "the token went out before the challenge"
stub_field 3 headers | grep_all '"Authorization": "Bearer t0k3n"' || fail "no Bearer token after the challenge"
ok "the Bearer token only in answer to a Bearer challenge, never to the probe (EST-C-31)"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg bearer --auth-token t0k3n
expect_rc 0 "--auth-token (visible, warned)"
err_says "warning: --auth-token"
# One 401, one answer: of the schemes a 401 offers, estclient picks one (Bearer, else
# Digest, else Basic) and answers with it alone, so libcurl does not ask the server again:
# two POSTs per enrolment, as libest's client makes, whatever the offer.
DIG='Digest realm=\"stub\", nonce=\"bm9uY2U\", qop=\"auth\", algorithm=MD5'
BAS='Basic realm=\"stub\"'
script offers '{
 "GET '$W'/both/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST '$W'/both/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "'"$BAS | $DIG"'"}],
 "POST '$W'/digestfirst/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "'"$DIG | $BAS"'"}],
 "POST '$W'/oneline/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "'"$DIG, $BAS"'"}],
 "POST '$W'/digest/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "'"$DIG"'"}],
 "POST '$W'/basic/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "'"$BAS"'"}],
 "POST '$W'/bearer/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": "Bearer realm=\"stub\" | '"$DIG"'"}]
}'
# two_posts SCHEME: the log holds a 401'd POST without credentials, then one answer with
# SCHEME on the same connection, and before them only GETs without credentials.
two_posts() {
	python3 - "$T/stub.log" "$1" <<'PY'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
posts = [r for r in reqs if r["method"] == "POST"]
assert len(posts) == 2, "%d POSTs, not 2" % len(posts)
assert all("Authorization" not in r["headers"] for r in reqs[:-1]), "credentials before the answer"
auth = posts[1]["headers"].get("Authorization", "")
assert auth.startswith(sys.argv[2] + " "), "answered with %r, not %s" % (auth, sys.argv[2])
assert posts[0]["conn"] == posts[1]["conn"], "the answer went out on another connection"
PY
}
start_stub offers.json srv.pem srv.key
for offer in both:Digest digestfirst:Digest oneline:Digest digest:Digest basic:Basic; do
	: > "$T/stub.log"
	ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg "${offer%%:*}" \
	    -u estuser -h estpwd
	expect_rc 0 "a 401 offering ${offer%%:*}"
	two_posts "${offer#*:}" || fail "${offer%%:*}: not one 401 and one ${offer#*:} answer"
	ok "${offer%%:*}: one 401 without credentials, then one ${offer#*:} answer: two POSTs"
done
: > "$T/stub.log"
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg both -u estuser -h estpwd
expect_rc 0 "-z, Basic and Digest offered"
[ "$(stub_field 1 method)" = GET ] || fail "no /cacerts probe"
two_posts Digest || fail "-z: not one 401 and one Digest answer after the probe"
ok "-z: the probe and the 401 without credentials, then one Digest answer"
: > "$T/stub.log"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg bearer --auth-token-file token.txt
expect_rc 0 "a 401 offering Bearer and Digest, to a token"
two_posts Bearer || fail "Bearer: not one 401 and one Bearer answer"
ok "Bearer: one 401 without the token, then one answer with it: two POSTs"
start_stub pending.json srv.pem srv.key --tls12
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth --auth-token t0k3n
expect_rc 5 "a Basic challenge is not answered with a Bearer token"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg nochallenge -u estuser -h estpwd
expect_rc 5 "a 401 without a challenge"
err_says "without a challenge"
# libest's estserver -t answers an unbound CSR so, and wrong credentials too.
err_says "the credentials may be wrong, or it may want a client certificate, or the CSR bound to the TLS connection (-z)"
chmod 644 dev.key
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser -h estpwd
expect_rc 1 "a key file readable by others"
err_says "chmod 600 ./dev.key\|chmod 600 dev.key"
chmod 600 dev.key

# ---- redirects (RFC 7030 §3.2.1, EST-G-15, EST-C-41) and Retry-After (EST-C-71) ----
: > "$T/stub.log"
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg moved -u estuser -h estpwd
expect_rc 0 "a same-origin 302 is followed, with credentials on the new target's challenge"
python3 - "$T/stub.log" "$W" <<'PY' || fail "redirect: CSRs not bound to their connection"
import json, subprocess, sys, base64
reqs = [json.loads(l) for l in open(sys.argv[1])]
posts = [r for r in reqs if r["method"] == "POST"]
assert posts[0]["path"] == sys.argv[2] + "/moved/simpleenroll", posts[0]["path"]
assert posts[-1]["path"] == sys.argv[2] + "/auth/simpleenroll", posts[-1]["path"]
for p in posts:
    der = base64.b64decode("".join(p["body"].split()))
    txt = subprocess.run(["openssl", "req", "-inform", "DER", "-noout", "-text"], input=der,
                         capture_output=True).stdout.decode()
    pw = [l.split(":", 1)[1].strip() for l in txt.splitlines() if "challengePassword" in l][0]
    assert pw == p["tls_unique"], (pw, p["tls_unique"])
PY
ok "the redirected CSR is bound anew to the connection that carries it (EST-C-41)"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg away
expect_rc 7 "a redirect to another origin is not followed"
err_says "https://evil.example:8443/.well-known/est/simpleenroll"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --path-seg moved
expect_rc 0 "a same-origin 301 on /cacerts is followed"
for form in rfc850 asctime zero; do
	ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg $form --retry-max 1 -v
	expect_rc 0 "Retry-After in the $form form"
	err_says "waiting 0 s"
done

# The renew daemon waiting out a 202 stops at SIGTERM, not after the server's
# Retry-After (here 300 s, three times over).
script pend202 '{
 "GET '$W'/cacerts": [{"status": 200, "headers": {'"$P7"'}, "body_file": "cacerts.b64"}],
 "POST '$W'/simplereenroll": [{"status": 202, "headers": {"Retry-After": "300"}, "body": "held\n"}]
}'
start_stub pend202.json srv.pem srv.key --client-ca ca.pem
mkdir -p held && cp dev.pem held/cert.pem && cp dev.key held/key.pem && chmod 600 held/key.pem
printf 'host = 127.0.0.1\nport = %s\ntrustanchor = %s\nrenew-before = 10d\n[cert held]\ncert = held/cert.pem\nkey = held/key.pem\n' \
    "$STUB_PORT" "$T/ca.pem" > held.conf
"$ESTCLIENT" renew --config held.conf --daemon 2> held.err &
held_pid=$!
for _ in $(seq 100); do grep -q "waiting 300 s" held.err && break; sleep 0.1; done
grep -q "waiting 300 s" held.err || fail "the daemon does not wait out the 202: $(cat held.err)"
sleep 0.3
kill -TERM $held_pid
for _ in $(seq 50); do kill -0 $held_pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $held_pid 2>/dev/null; then
	kill -KILL $held_pid
	fail "the renew daemon ignored SIGTERM while waiting out a 202"
fi
held_rc=0; wait $held_pid || held_rc=$?
[ "$held_rc" = 0 ] || fail "the renew daemon stopped by SIGTERM exited $held_rc: $(cat held.err)"
cmp -s held/cert.pem dev.pem && cmp -s held/key.pem dev.key || fail "a stopped renewal changed the files"
ok "renew --daemon stops at SIGTERM during a 202 wait, files untouched"

# ---- libest's example server (issue 11): its deviations, tolerated quietly -------
# /csrattrs ending in a NUL byte; 401 to a client certificate without an
# Authorization header; the connection closed after every 401 (and the PoP
# checked against tls-unique whenever the CSR has a challengePassword).
printf '%s\0' "$RFC_ATTRS" > nul-attrs.b64
openssl req -new -key dev.key -subj /CN=dev -out devrenew.csr 2>/dev/null
script libest '{
 "GET '$W'/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "GET '$W'/csrattrs": [{"status": 200, "headers": {"Content-Type": "application/csrattrs"}, "body_file": "nul-attrs.b64"}],
 "POST '$W'/simplereenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": true, "close_on_401": true}],
 "POST '$W'/simpleenroll": [{"status": 200, "headers": {'"$P7"'}, "body_file": "dev.b64", "require_auth": true, "close_on_401": true, "pop": true}]
}'
start_stub libest.json srv.pem srv.key --tls12 --client-ca ca.pem
rm -f csr-0-0.base64
ec -a -s 127.0.0.1 -p $STUB_PORT -o .
expect_rc 0 "-a: CSR attributes ending in a NUL byte"
[ ! -s "$T/ec.err" ] || fail "the NUL byte was more than a debug line: $(cat "$T/ec.err")"
[ "$(b64d < csr-0-0.base64 | openssl base64 -A)" = "$RFC_ATTRS" ] || fail "csr-0-0.base64 differs"
ec -a -v -s 127.0.0.1 -p $STUB_PORT -o .
err_says "ends in NUL bytes"
ok "a trailing NUL in /csrattrs: accepted, one debug line with -v"
: > "$T/stub.log"
ec -r -s 127.0.0.1 -p $STUB_PORT -o . -c dev.pem -k dev.key
expect_rc 0 "-r -c -k, the server wants an Authorization header anyway"
[ "$(stub_count)" = 2 ] || fail "expected 2 requests, got $(stub_count)"
! stub_field 1 headers | grep_all Authorization || fail "an Authorization header before the 401"
stub_field 2 headers | grep_all '"Authorization": "Basic Og=="' || fail "no empty Basic header after the 401"
ok "401 despite the client certificate: asked again with an empty Basic header, as libest's client does"
: > "$T/stub.log"
ec -r -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key -c dev.pem -k dev.key -u estuser -h wrong
[ "$RC" = 0 ] || [ "$RC" = 5 ] || fail "-r with credentials: exit $RC"
! grep -q 'Og==' "$T/stub.log" || fail "an empty Basic header went out although credentials were given"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key
expect_rc 5 "-e without certificate or credentials: 401 stays 401"
! grep -q 'Og==' "$T/stub.log" || fail "an empty Basic header went out without a client certificate"
ok "the empty Basic header only for a client certificate without credentials"
: > "$T/stub.log"
ec -e -z -v -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key -u estuser -h estpwd --common-name dev
expect_rc 0 "-e -z -u -h against a server that closes the connection after its 401"
python3 - "$T/stub.log" <<'PY' || fail "the CSR that got through was not bound to its connection"
import json, sys, base64
reqs = [json.loads(l) for l in open(sys.argv[1])]
last = reqs[-1]
assert last["method"] == "POST" and "Authorization" in last["headers"], last
assert base64.b64encode(base64.b64decode(last["tls_unique"])).decode() in base64.b64decode("".join(last["body"].split())).decode("latin-1")
prev = reqs[-2]
assert prev["method"] == "GET" and prev["conn"] == last["conn"], "the CSR was not built on the probed connection"
PY
ok "-z after a 401 that closes the connection: credentials settled, CSR rebuilt on the next connection"

# ---- server authentication (EST-C-20, EST-C-23, EST-C-31) -------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.pem \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null
start_stub pending.json evil.pem evil.key
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser -h estpwd
expect_rc 4 "a server under an unknown CA: only the Explicit TA counts (EST-C-16, EST-C-20)"
err_says "not trusted"
[ "$(stub_count)" = 0 ] || fail "a request (and credentials) reached the untrusted server"
ok "nothing, credentials least of all, reaches an untrusted server (EST-C-31)"
start_stub offers.json evil.pem evil.key
: > "$T/stub.log"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg both -u estuser -h estpwd
expect_rc 4 "an untrusted server that would offer Basic and Digest"
[ "$(stub_count)" = 0 ] || fail "a request reached the untrusted server that offers Basic and Digest"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --path-seg both --trustanchor no -u estuser -h estpwd
expect_rc 2 "--trustanchor no with credentials"
[ "$(stub_count)" = 0 ] || fail "--trustanchor no with credentials reached the server"
ok "credentials go neither to an untrusted server nor over --trustanchor no"
issue_tls cnonly ""    # CN=cnonly, no SAN
openssl req -new -key cnonly.key -subj /CN=127.0.0.1 -out cn.csr
issue cn.csr cn.pem "extendedKeyUsage=serverAuth"
start_stub pending.json cn.pem cnonly.key
ec -g -s 127.0.0.1 -p $STUB_PORT -o .
expect_rc 4 "a name only in the CN is not enough (EST-C-23; PROFILE: the name is always checked, EST-C-21)"
err_says "not issued for"

# ---- bootstrap: --trustanchor no, -g only, fingerprints ---------------------------
# RFC 7030 §4.1.1, EST-C-15: nothing is kept before the root is confirmed out of band.
start_stub pending.json srv.pem srv.key
FP=$(openssl x509 -in ca.pem -noout -fingerprint -sha256 | cut -d= -f2)
mkdir boot
ec -g -s 127.0.0.1 -p $STUB_PORT -o boot --trustanchor no --pem-output
expect_rc 4 "--trustanchor no -g, not confirmed (no terminal, no --expect-fingerprint)"
err_says "root of /cacerts is \"CN=Stub CA\""
err_says "--expect-fingerprint sha256:$FP"
[ -z "$(ls boot)" ] || fail "an unconfirmed bootstrap wrote $(ls boot)"
ec -g -s 127.0.0.1 -p $STUB_PORT -o boot --trustanchor no --pem-output \
    --expect-fingerprint sha256:$(openssl x509 -in srv.pem -noout -fingerprint -sha256 | cut -d= -f2)
expect_rc 4 "--expect-fingerprint of another certificate"
[ -z "$(ls boot)" ] || fail "a refused bootstrap wrote $(ls boot)"
ec -g -s 127.0.0.1 -p $STUB_PORT -o boot --trustanchor no --pem-output \
    --expect-fingerprint "sha256:$(echo "$FP" | tr -d : | tr A-F a-f)"
expect_rc 0 "--expect-fingerprint of the root (lower case, no colons)"
cmp -s boot/cacert-root-0-0.pem ca.pem || fail "cacert-root-0-0.pem is not the root"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor boot/cacert-root-0-0.pem
expect_rc 0 "cacert-root-0-0.pem works as --trustanchor"
ok "bootstrap: the root's fingerprint confirms it; cacert-root-0-0.pem is the Explicit TA (EST-C-13, EST-C-15)"
# A man in the middle copies the real root (old, by notAfter) next to a root of
# his own (current), and links them by an OldWithNew he signs with his own key.
# The real root's fingerprint must not confirm his root: only a NewWithOld,
# signed by the real root's key, links them (RFC 7030 §4.1.3, EST-C-15).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mitm.key \
    -out mitm.pem -subj "/CN=MITM Root" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > roll.cnf
openssl x509 -in ca.pem -pubkey -noout > ca.pub
openssl req -new -key mitm.key -subj "/CN=Stub CA" -out owm.csr
openssl x509 -req -in owm.csr -force_pubkey ca.pub -CA mitm.pem -CAkey mitm.key -CAcreateserial \
    -days 2 -extfile roll.cnf -out forged-owm.pem 2>/dev/null
cat mitm.pem ca.pem forged-owm.pem > mitm-bag.pem
certs_only mitm-bag.pem mitm-bag.b64
# What the real CA would add when it rolls over to that key: the NewWithOld.
openssl req -new -key mitm.key -subj "/CN=MITM Root" -out nwo.csr
openssl x509 -req -in nwo.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile roll.cnf -out nwo.pem 2>/dev/null
cat mitm-bag.pem nwo.pem > rolled-bag.pem
certs_only rolled-bag.pem rolled-bag.b64
script mitm '{"GET '$W'/cacerts": [{"status": 200, "headers": {'"$P7"'}, "body_file": "mitm-bag.b64"}]}'
script rolled '{"GET '$W'/cacerts": [{"status": 200, "headers": {'"$P7"'}, "body_file": "rolled-bag.b64"}]}'
start_stub mitm.json srv.pem srv.key
mkdir boot-mitm boot-rolled
ec -g -s 127.0.0.1 -p $STUB_PORT -o boot-mitm --trustanchor no --pem-output --expect-fingerprint "sha256:$FP"
expect_rc 4 "bootstrap: the real root's fingerprint does not confirm a root merely placed beside it"
err_says 'the root of /cacerts, "CN=MITM Root"'
[ -z "$(ls boot-mitm)" ] || fail "an unlinked root was written after the old root's fingerprint: $(ls boot-mitm)"
start_stub rolled.json srv.pem srv.key
ec -g -s 127.0.0.1 -p $STUB_PORT -o boot-rolled --trustanchor no --pem-output --expect-fingerprint "sha256:$FP"
expect_rc 0 "bootstrap during a rollover: the old root's fingerprint confirms the new root its NewWithOld links"
cmp -s boot-rolled/cacert-root-0-0.pem mitm.pem || fail "cacert-root-0-0.pem is not the new root"
# A /cacerts answer is validated in time that grows with the square of its size:
# a megabyte of certificates held estclient for minutes. 64 are read, 65 not.
openssl req -new -key srvkey.pem -subj "/CN=many" -out many.csr
cp ca.pem many64.pem
for i in $(seq 63); do
	openssl x509 -req -in many.csr -CA ca.pem -CAkey ca.key -set_serial "$i" -days 2 2>/dev/null >> many64.pem
done
cat many64.pem srv.pem > many65.pem
certs_only many64.pem many64.b64
certs_only many65.pem many65.b64
script many '{"GET '$W'/cacerts": [{"status": 200, "headers": {'"$P7"'}, "body_file": "many64.b64"},
 {"status": 200, "headers": {'"$P7"'}, "body_file": "many65.b64"}]}'
start_stub many.json srv.pem srv.key
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor ca.pem
expect_rc 0 "a /cacerts answer of 64 certificates"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor ca.pem
expect_rc 7 "a /cacerts answer of 65 certificates is refused before it is validated"
err_says "holds 65 certificates, more than the 64"
start_stub pending.json srv.pem srv.key
# On a terminal (script(1) gives it one) the person confirms, or not.
if command -v script >/dev/null; then
	mkdir tty-yes tty-no
	printf 'y\n' | timeout 20 script -qec "$ESTCLIENT -g -s 127.0.0.1 -p $STUB_PORT -o tty-yes --trustanchor no" \
	    /dev/null > tty.out 2>&1 || true
	grep -q "fingerprint sha256:$FP" tty.out || fail "the prompt does not show the root's fingerprint: $(cat tty.out)"
	cmp -s tty-yes/cacert-root-0-0.pem <(openssl x509 -in ca.pem) || fail "confirmed on the terminal, not written"
	printf 'n\n' | timeout 20 script -qec "$ESTCLIENT -g -s 127.0.0.1 -p $STUB_PORT -o tty-no --trustanchor no" \
	    /dev/null > tty.out 2>&1 || true
	[ -z "$(ls tty-no)" ] || fail "refused on the terminal, yet written"
	(sleep 2; printf 'estpwd\n') | timeout 20 script -qec "$ESTCLIENT -e -s 127.0.0.1 -p $STUB_PORT -o tty-yes \
	    -x dev.key --common-name dev --path-seg auth -u estuser" /dev/null > tty.out 2>&1 || true
	[ -s tty-yes/cert-0-0.pkcs7 ] || fail "the password typed at the prompt did not enrol: $(cat tty.out)"
	! grep -q estpwd tty.out || fail "the password was echoed"
	ok "bootstrap confirmed (or refused) on the terminal; -u asks for the password there, unechoed"
fi
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --trustanchor no
expect_rc 2 "--trustanchor no refuses anything but -g"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor no -c dev.pem -k dev.key
expect_rc 2 "--trustanchor no refuses a client certificate (it would show the device's identity)"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor no -u estuser --password-file pw.txt
expect_rc 2 "--trustanchor no refuses credentials (EST-C-31)"
[ "$(stub_count)" = 0 ] || : > "$T/stub.log"

# ---- a misbehaving server: each answer fails closed, nothing is written -------
# /cacerts (EST-C-10, EST-C-11, EST-C-12) and issued certificates (EST-C-52).
selfsigned_ca() { # NAME CN: NAME.key, NAME.pem, a self-signed CA
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	    -out "$1.pem" -subj "/CN=$2" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
selfsigned_ca unrelated "Unrelated Root"
selfsigned_ca fakeint "Stub Intermediate"      # a self-signed CA:TRUE "intermediate"
selfsigned_ca rogue "Rogue CA"
# A real intermediate under the stub CA, and a certificate it issued.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -subj "/CN=Stub Issuing CA" \
    -out int.csr 2>/dev/null
issue int.csr int.pem "basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign"
openssl req -new -key dev.key -subj /CN=dev -out dev.csr
openssl x509 -req -in dev.csr -CA int.pem -CAkey int.key -CAcreateserial -days 2 -out dev-int.pem 2>/dev/null
certs_only dev-int.pem dev-int.b64
cat ca.pem int.pem > good-bag.pem
cat ca.pem unrelated.pem fakeint.pem rogue.pem > bad-bag.pem
certs_only good-bag.pem good-bag.b64
certs_only bad-bag.pem bad-bag.b64
certs_only unrelated.pem unrelated.b64
certs_only fakeint.pem fakeint.b64
cat ca.pem rogue.pem > rogue-bag.pem
certs_only rogue-bag.pem rogue-bag.b64
# Issued certificates for dev.key that must be refused.
openssl x509 -req -in dev.csr -CA rogue.pem -CAkey rogue.key -CAcreateserial -days 2 -out rogue-dev.pem \
    -subj "/CN=evil-subject/O=Other" 2>/dev/null || \
    { openssl req -new -key dev.key -subj "/CN=evil-subject/O=Other" -out evil.csr;
      openssl x509 -req -in evil.csr -CA rogue.pem -CAkey rogue.key -CAcreateserial -days 2 -out rogue-dev.pem 2>/dev/null; }
openssl x509 -req -in dev.csr -CA rogue.pem -CAkey rogue.key -CAcreateserial -days 2 -out rogue-samename.pem 2>/dev/null
openssl x509 -req -in dev.csr -signkey dev.key -days 2 -out self-dev.pem 2>/dev/null
openssl x509 -req -in dev.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days -1 -out backwards-dev.pem 2>/dev/null
issue dev.csr ca-dev.pem "basicConstraints=critical,CA:TRUE"
issue dev.csr san-dev.pem "subjectAltName=DNS:evil.example"
for f in rogue-dev rogue-samename self-dev backwards-dev ca-dev san-dev; do certs_only $f.pem $f.b64; done
# /serverkeygen from a rogue CA: its key and a certificate for it.
openssl req -new -key srvkey.pem -subj /CN=registered_client -out srvkey.csr
openssl x509 -req -in srvkey.csr -CA rogue.pem -CAkey rogue.key -CAcreateserial -days 2 -out rogue-srv.pem 2>/dev/null
certs_only rogue-srv.pem rogue-srv.b64
{ printf -- '--b\r\nContent-Type: application/pkcs8\r\n\r\n'; sed "s/\$/$CRLF/" srvkey.b64
  printf -- '--b\r\nContent-Type: application/pkcs7-mime; smime-type=certs-only\r\n\r\n'; sed "s/\$/$CRLF/" rogue-srv.b64
  printf -- '--b--\r\n'; } > keygen-rogue.body
P7T='"Content-Type": "application/pkcs7-mime"'
route() { # LABEL OP BODYFILE [CONTENT-TYPE-JSON]
	printf ' "%s %s/%s/%s": [{"status": 200, "headers": {%s}, "body_file": "%s"}],\n' \
	    "$([ "$2" = cacerts ] && echo GET || echo POST)" "$W" "$1" "$2" "${4:-$P7T}" "$3"
}
{ echo '{'
  route good cacerts good-bag.b64
  route good simpleenroll dev-int.b64
  route bad cacerts bad-bag.b64
  route unrelated cacerts unrelated.b64
  route fakeint cacerts fakeint.b64
  route rogue cacerts rogue-bag.b64
  for f in rogue-dev rogue-samename self-dev backwards-dev ca-dev san-dev; do
	route $f cacerts cacerts.b64
	route $f simpleenroll $f.b64
  done
  route rogue-dev simplereenroll rogue-dev.b64
  route keygen serverkeygen keygen-rogue.body '"Content-Type": "multipart/mixed; boundary=b"'
  route keygen cacerts cacerts.b64
  printf ' "GET %s/cacerts": [{"status": 200, "headers": {%s}, "body_file": "cacerts.b64"}]\n}\n' "$W" "$P7T"
} > attacks.json
start_stub attacks.json srv.pem srv.key --client-ca ca.pem
mkdir good
ec -g -s 127.0.0.1 -p $STUB_PORT -o good --path-seg good --pem-output
expect_rc 0 "/cacerts: root and an intermediate under it"
cmp -s good/cacert-root-0-0.pem ca.pem || fail "cacert-root-0-0.pem is not the root"
[ "$(grep -c BEGIN good/cacert-0-0.pem)" = 2 ] || fail "cacert-0-0.pem does not hold the bag"
ec -e -s 127.0.0.1 -p $STUB_PORT -o good --path-seg good -x dev.key --common-name dev
expect_rc 0 "a certificate from the intermediate, which only /cacerts carries"
ok "an issued certificate verifies through the /cacerts intermediate (EST-S-14, EST-C-12)"
# RFC 7030 §4.2 recommends the current CA certificates before enrolling: -g -e
# fetches and validates them first, in one run; a bag that does not validate
# stops the run before any CSR goes out (EST-C-51).
: > "$T/stub.log"
ec -g -e -s 127.0.0.1 -p $STUB_PORT -o good --path-seg good -x dev.key --common-name dev
expect_rc 0 "-g -e: /cacerts, then the enrolment"
python3 - "$T/stub.log" "$W" <<'PY' || fail "-g -e: not /cacerts first, then one POST on that connection"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
seen = [(r["method"], r["path"]) for r in reqs]
w = sys.argv[2]
assert seen == [("GET", w + "/good/cacerts"), ("POST", w + "/good/simpleenroll")], seen
assert reqs[0]["conn"] == reqs[1]["conn"], "the enrolment went out on another connection"
PY
: > "$T/stub.log"
ec -g -e -s 127.0.0.1 -p $STUB_PORT -o ge-refused --path-seg rogue -x dev.key --common-name dev
expect_rc 7 "-g -e: a /cacerts bag that does not validate"
! grep -q '"POST"' "$T/stub.log" || fail "-g -e posted a CSR after a /cacerts answer it refused"
[ -z "$(ls ge-refused)" ] || fail "-g -e wrote $(ls ge-refused) after a refused /cacerts answer"
ok "-g -e validates the CA certificates before any CSR goes out (EST-C-51)"
mkdir refused
for label in bad unrelated fakeint rogue; do
	ec -g -s 127.0.0.1 -p $STUB_PORT -o refused --path-seg $label
	expect_rc 7 "/cacerts bag \"$label\" is refused (EST-C-12)"
	err_says "refused"
done
[ -z "$(ls refused)" ] || fail "a refused /cacerts wrote $(ls refused)"
ok "no refused /cacerts answer leaves a file (EST-C-11)"
for f in rogue-dev rogue-samename self-dev backwards-dev ca-dev san-dev; do
	ec -e -s 127.0.0.1 -p $STUB_PORT -o refused --path-seg $f -x dev.key --common-name dev
	expect_rc 7 "/simpleenroll answer $f is refused (EST-C-52)"
done
ec -e -s 127.0.0.1 -p $STUB_PORT -o refused --path-seg rogue-dev --common-name dev
expect_rc 7 "a refused certificate for a key estclient made"
ec -r -s 127.0.0.1 -p $STUB_PORT -o refused --path-seg rogue-dev -c dev.pem -k dev.key
expect_rc 7 "/simplereenroll answer from a rogue CA is refused"
[ "$(stub_field -1 peer)" = "CN=dev" ] || fail "-r did not authenticate with the certificate being renewed"
ok "-r authenticates with the certificate being renewed (EST-C-56)"
ec -q -s 127.0.0.1 -p $STUB_PORT -o refused --path-seg keygen --server-names
expect_rc 7 "/serverkeygen key and certificate from a rogue CA are refused"
err_says "does not verify"
[ -z "$(ls refused)" ] || fail "a refused answer wrote $(ls refused)"
ok "no refused certificate, key or generated key is written"
# A server that sends its answer a byte at a time, never silent for -w: the
# silence timeout alone would wait for all of it (here 60 s; a megabyte, weeks).
script drip '{"GET '$W'/cacerts": [{"status": 200, "headers": {'"$P7"'}, "body": "'"$(printf 'A%.0s' $(seq 120))"'", "drip": 0.5}]}'
start_stub drip.json srv.pem srv.key
t0=$(date +%s)
ec -g -s 127.0.0.1 -p $STUB_PORT -o refused -w 2
expect_rc 3 "an answer trickling in is given up 3 times -w after the request"
err_says "not complete 6 s after the request"
[ $(($(date +%s) - t0)) -lt 20 ] || fail "estclient waited $(($(date +%s) - t0)) s for a trickling answer"

# ---- TLS: Extended Master Secret for tls-unique, TLS 1.3 only (CB-03, EST-G-07) ----
start_stub pending.json srv.pem srv.key --no-ems
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev
expect_rc 4 "-z on TLS 1.2 without Extended Master Secret"
err_says "Extended Master Secret"
[ "$(grep -c '"POST"' "$T/stub.log")" = 0 ] || fail "a CSR was posted on a connection without EMS"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev
expect_rc 0 "without -z, EMS is not needed"
start_stub pending.json srv.pem srv.key --tls12
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --tls13-only
expect_rc 4 "--tls13-only against a TLS 1.2 server"

stop_stub
finish
