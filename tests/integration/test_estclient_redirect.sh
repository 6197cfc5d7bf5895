#!/usr/bin/env bash
# Which server estclient talks to, and under which name (RFC 7030 §3.2.1,
# §3.6; est-conformance.md EST-C-22): the server's certificate is checked
# against the configured host name under RFC 6125, with the Explicit TA
# and with the system's store (the Implicit TA) alike, and an id-kp-cmcRA
# EKU stands in for no name. A redirect is followed only within the
# configured origin, so every redirect URI names the host the certificate
# was checked for; one to another host or port is not followed, and the
# server there -- a second stub that records all it is sent -- hears
# nothing, credentials least of all. A server that only the system's store
# vouches for gets no HTTP password, and only linked CSRs (EST-C-26).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

cd "$T"
make_stub_pki
export EST_OPENSSL_CACERT=$T/ca.pem
W=/.well-known/est
P7='"Content-Type": "application/pkcs7-mime; smime-type=certs-only"'
openssl ecparam -name prime256v1 -genkey -noout -out dev.key
cert_for dev.key dev dev.pem
certs_only dev.pem dev.b64
certs_only ca.pem cacerts.b64
printf 'estpwd\n' > pw.txt
printf 't0k3n\n' > token.txt

# The other server, where the redirects point: it has a certificate for
# 127.0.0.1 and localhost under the same CA, so TLS alone would not stop a
# client that followed; it answers everything with what a client wants.
OTHER_PID=
start_other() {
	rm -f other.ready
	python3 "$STUB_PY" --script other.json --cert srv.pem --key srv.key --log other.log \
	    --ready-file other.ready 2>>other.err &
	OTHER_PID=$!
	for _ in $(seq 100); do [ -f other.ready ] && break; sleep 0.1; done
	[ -f other.ready ] || fail "the other stub did not start: $(cat other.err)"
	OTHER_PORT=$(cat other.ready)
}
stop_other() {
	[ -z "$OTHER_PID" ] || { kill "$OTHER_PID" 2>/dev/null || true; wait "$OTHER_PID" 2>/dev/null || true; }
	OTHER_PID=
}
trap 'stop_other; estclient_cleanup' EXIT
other_heard_nothing() { # WHAT
	[ ! -s other.log ] || fail "$1: the other server was sent: $(head -c 600 other.log)"
}
cat > other.json <<JSON
{"GET $W/cacerts": [{"status": 200, "headers": {$P7}, "body_file": "$T/cacerts.b64"}],
 "POST $W/simpleenroll": [{"status": 200, "headers": {$P7}, "body_file": "$T/dev.b64"}]}
JSON
start_other
OTHER_HOST="https://localhost:$OTHER_PORT$W"     # another host name and port
OTHER_PORT_URL="https://127.0.0.1:$OTHER_PORT$W" # the same host, another port

# The configured server: each route first asks for credentials (Basic,
# Bearer; or as libest's server does, closing the connection after its 401,
# so that estclient settles on sending them unasked), then redirects.
moved() { # LABEL OP LOCATION [AUTH]
	printf ' "%s %s/%s/%s": [{"status": 307, "headers": {"Location": "%s"}%s}],\n' \
	    "$([ "$2" = cacerts ] && echo GET || echo POST)" "$W" "$1" "$2" "$3" "${4:-}"
}
{ echo '{'
  moved host simpleenroll "$OTHER_HOST/simpleenroll" ', "require_auth": true'
  moved port simpleenroll "$OTHER_PORT_URL/simpleenroll" ', "require_auth": true'
  moved name simpleenroll "https://localhost:@PORT@$W/landed/simpleenroll" ', "require_auth": true'
  moved bearer simpleenroll "$OTHER_HOST/simpleenroll" ', "require_auth": "Bearer realm=\"stub\""'
  moved digest simpleenroll "$OTHER_HOST/simpleenroll" ', "require_auth": "Digest realm=\"stub\", nonce=\"bm9uY2U\", qop=\"auth\", algorithm=MD5"'
  moved settled simpleenroll "$OTHER_HOST/simpleenroll" ', "require_auth": true, "close_on_401": true'
  moved host cacerts "$OTHER_HOST/cacerts"
  moved same simpleenroll "https://127.0.0.1:@PORT@$W/landed/simpleenroll" ', "require_auth": true'
  moved samename simpleenroll "https://LOCALHOST:@PORT@$W/landed/simpleenroll"
  printf ' "GET %s/settled/cacerts": [{"status": 200, "headers": {%s}, "body_file": "cacerts.b64"}],\n' "$W" "$P7"
  printf ' "GET %s/cacerts": [{"status": 200, "headers": {%s}, "body_file": "cacerts.b64"}],\n' "$W" "$P7"
  printf ' "POST %s/simpleenroll": [{"status": 200, "headers": {%s}, "body_file": "dev.b64"}],\n' "$W" "$P7"
  printf ' "POST %s/auth/simpleenroll": [{"status": 200, "headers": {%s}, "body_file": "dev.b64", "require_auth": true}],\n' "$W" "$P7"
  printf ' "POST %s/landed/simpleenroll": [{"status": 200, "headers": {%s}, "body_file": "dev.b64", "require_auth": true}]\n}\n' "$W" "$P7"
} > main.json
start_stub main.json srv.pem srv.key --tls12

# ---- the user's case: a redirect within the origin is followed -------------------
: > stub.log
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg same -u estuser \
    --password-file pw.txt
expect_rc 0 "a same-origin 307 after the challenge is followed, the new target's challenge answered"
[ "$(stub_field -1 path)" = "$W/landed/simpleenroll" ] || fail "the redirect was not followed"
stub_field -1 headers | grep_all '"Authorization": "Basic ZXN0dXNlcjplc3Rwd2Q="' \
    || fail "the redirect target's challenge was not answered"
: > stub.log
ec -e -s localhost -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg samename -u estuser \
    --password-file pw.txt
expect_rc 0 "a redirect to the configured host name in other letter case is the same origin"
[ "$(stub_field -1 path)" = "$W/landed/simpleenroll" ] || fail "the same-origin redirect was not followed"

# ---- the attacker's case: a redirect elsewhere, after credentials -----------------
for label in host port name; do
	: > stub.log
	ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg $label -u estuser \
	    --password-file pw.txt
	expect_rc 7 "307 to another origin ($label) after the Basic answer: not followed (EST-C-22)"
	err_says "redirected to another server"
	other_heard_nothing "a redirect to another $label"
	! grep -q "/landed/" stub.log || fail "a redirect to another host name on the same port was followed"
	[ "$(stub_count)" = 2 ] || fail "$label: expected the 401'd POST and its answer, got $(stub_count) requests"
done
ok "no redirect to another host, port or host name is followed, so no redirect URI escapes the name check (EST-C-22)"
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg bearer \
    --auth-token-file token.txt
expect_rc 7 "307 to another host after the Bearer answer"
other_heard_nothing "a redirect after a Bearer answer"
: > stub.log
ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg digest -u estuser \
    --password-file pw.txt
expect_rc 7 "307 to another host after the Digest answer"
stub_field -1 headers | grep_all '"Authorization": "Digest ' || fail "the Digest challenge was not answered"
other_heard_nothing "a redirect after a Digest answer"
: > stub.log
ec -e -z -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg settled -u estuser \
    --password-file pw.txt
expect_rc 7 "307 to another host once credentials go out unasked (the server closed after its 401)"
stub_field -1 headers | grep_all '"Authorization": "Basic' || fail "the credentials were not settled"
other_heard_nothing "a redirect after the credentials were settled"
ec -g -s 127.0.0.1 -p $STUB_PORT -o . --path-seg host
expect_rc 7 "GET /cacerts redirected to another host: not followed"
other_heard_nothing "a /cacerts redirect"
ok "credentials (Basic, Digest, Bearer, settled) and requests go to the configured origin only (EST-C-22, EST-C-31)"

# ---- the Implicit TA (the system's store): the name, never the cmcRA EKU -----------
# SSL_CERT_FILE stands in for the system's store (OpenSSL reads it for its defaults).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ra.key -subj /CN=ra \
    -out ra.csr 2>/dev/null
issue ra.csr ra.pem "subjectAltName=DNS:other.example
extendedKeyUsage=serverAuth,1.3.6.1.5.5.7.3.28"
openssl x509 -in ra.pem -noout -text | grep -q 'CMC Registration Authority\|1.3.6.1.5.5.7.3.28' \
    || fail "the test certificate carries no id-kp-cmcRA"
mkdir -p sys
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T/sys ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor system
expect_rc 0 "--trustanchor system: a server certificate under the system's store, for the configured name"
start_stub main.json ra.pem ra.key --tls12
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T/sys ec -g -s 127.0.0.1 -p $STUB_PORT -o . --trustanchor system
expect_rc 4 "--trustanchor system: a certificate with cmcRA but another name is refused (EST-C-22)"
err_says "not issued for"
SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T/sys ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key \
    --common-name dev --path-seg same -c dev.pem -k dev.key --trustanchor system
expect_rc 4 "--trustanchor system: enrolment to a cmcRA certificate with another name"
[ "$(stub_count)" = 0 ] || fail "a request reached a server whose certificate does not name it"
ok "Implicit TA: RFC 6125 name check, the cmcRA EKU alone is not enough (EST-C-22)"

# ---- the Implicit TA: client certificate and linking, no HTTP password (EST-C-26) ----
# Any CA in the system's store may vouch for the name, so a server it vouches
# for is not thereby the EST server a password was given for (RFC 7030 §6).
start_stub main.json srv.pem srv.key --tls12 --client-ca ca.pem
sys_ec() { SSL_CERT_FILE=$T/ca.pem SSL_CERT_DIR=$T/sys ec "$@" --trustanchor system; }
: > stub.log
sys_ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev -c dev.pem -k dev.key
expect_rc 0 "--trustanchor system: enrolment authenticated by the client certificate"
python3 - stub.log <<'PY' || fail "--trustanchor system: the CSR is not linked to its TLS connection"
import base64, json, subprocess, sys
post = [r for r in map(json.loads, open(sys.argv[1])) if r["method"] == "POST"][-1]
assert post["peer"] == "CN=dev", "the client certificate was not presented"
der = base64.b64decode("".join(post["body"].split()))
txt = subprocess.run(["openssl", "req", "-inform", "DER", "-noout", "-text"], input=der,
                     capture_output=True, check=True).stdout.decode()
pw = [l.split(":", 1)[1].strip() for l in txt.splitlines() if "challengePassword" in l]
assert pw == [post["tls_unique"]], (pw, post["tls_unique"])
PY
ok "--trustanchor system: the CSR carries the tls-unique of its connection without -z (EST-C-26)"
: > stub.log
sys_ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth -u estuser \
    --password-file pw.txt
expect_rc 2 "--trustanchor system with an HTTP password"
err_says "RFC 7030 §6"
sys_ec -e -s 127.0.0.1 -p $STUB_PORT -o . -x dev.key --common-name dev --path-seg auth \
    --auth-token-file token.txt
expect_rc 2 "--trustanchor system with a Bearer token"
openssl req -new -key dev.key -subj /CN=dev -out dev.csr
sys_ec -e -s 127.0.0.1 -p $STUB_PORT -o . -y dev.csr -c dev.pem -k dev.key
expect_rc 2 "--trustanchor system with a ready CSR, which cannot be linked"
[ "$(stub_count)" = 0 ] || fail "--trustanchor system: a request went out: $(cat stub.log)"
ok "--trustanchor system: no HTTP password or token, no unlinked CSR ever goes out (EST-C-26)"

stop_stub
stop_other
finish
