#!/usr/bin/env bash
# TLS-SRP (RFC 5054, issue 11): estadm srp keeps salted verifiers, estd
# offers SRP only on listeners with srp = yes (TLS 1.2), an alias with
# authentication = srp takes the SRP user as principal; curl --tlsauthtype
# SRP and estclient --srp enrol. A wrong password and an unknown user fail
# alike.
. "$(dirname "$0")/lib.sh"
curl -V | grep_all 'TLS-SRP' || { echo "curl without TLS-SRP: skipped"; exit 77; }
. "$(dirname "$0")/estclient_lib.sh"

init_demo
cd "$T"
sed -i 's/^\[server\]$/[server]\nsrp-verifiers = srp.verifiers/' var/estd.conf
cat >> var/estd.conf <<'CONF'
[listener srp]
listen = 127.0.0.1:0
tls = server
certificate = tls.pem
key = tls.key
srp = yes

[alias srp]
authentication = srp
CONF

# ---- estadm srp -------------------------------------------------------------
echo 'srp secret 1' | "$ESTADM" -c var/estd.conf srp add dev1 > add.txt
grep_all 'added SRP user dev1' add.txt || fail "srp add: $(cat add.txt)"
echo 'other' | "$ESTADM" -c var/estd.conf srp add dev2 >/dev/null
echo 'gone' | "$ESTADM" -c var/estd.conf srp add dev3 >/dev/null
[ "$(stat -c %a var/srp.verifiers)" = 600 ] || fail "verifier file is not mode 0600"
! grep -q 'srp secret' var/srp.verifiers || fail "the password is in the verifier file"
grep_all '^dev1:2048:[A-Za-z0-9+/=]*:[A-Za-z0-9+/=]*$' var/srp.verifiers || fail "not name:2048:salt:verifier"
"$ESTADM" -c var/estd.conf srp del dev3 >/dev/null
[ "$("$ESTADM" -c var/estd.conf srp list | tr '\n' ' ')" = "dev1 dev2 " ] || fail "srp list"
if "$ESTADM" -c var/estd.conf srp del dev3 > del.txt 2>&1; then fail "deleting a missing user succeeded"; fi
grep_all 'no SRP user "dev3"' del.txt || fail "srp del of a missing user: $(cat del.txt)"
ok "estadm srp add|del|list: salted verifiers, mode 0600, no passwords"
# Same password, new salt: an entry is never the same twice.
before=$(grep '^dev2:' var/srp.verifiers)
echo 'other' | "$ESTADM" -c var/estd.conf srp add dev2 | grep_all 'changed SRP password of dev2' || fail "srp add again"
[ "$before" != "$(grep '^dev2:' var/srp.verifiers)" ] || fail "re-adding kept the salt"
ok "re-adding a user gives a new salt"

start_estd
SRP_PORT=$(awk '$1=="srp"{print $2}' "$T/ready")
SEST="https://127.0.0.1:$SRP_PORT/.well-known/est"
mkcsr dev

# ---- curl --tlsauthtype SRP --------------------------------------------------
# SRP suites carry no certificate: the SRP exchange authenticates the server,
# so curl is told not to look for one (-k).
srp_curl() { curl -s -k --tlsauthtype SRP "$@"; }
status=$(srp_curl --tlsuser dev1 --tlspassword 'srp secret 1' -o dev.p7 -w '%{http_code}' \
    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 "$SEST/srp/simpleenroll")
[ "$status" = 200 ] || fail "curl SRP enrolment: $status $(cat dev.p7)"
b64d < dev.p7 | openssl pkcs7 -inform DER -print_certs | openssl x509 -noout -subject | grep_all 'CN = dev' \
    || fail "no certificate for CN=dev"
grep_all 'principal=srp:dev1 status=200 ms=[0-9.]* auth=srp ' "$T/estd.log" || fail "principal not srp:dev1, or auth not srp"
ok "curl --tlsauthtype SRP --tlsuser --tlspassword enrols; principal srp:dev1"

# The attacker's side: dev1's session, offered again under dev2's name with a
# wrong password. A resumed session runs no SRP exchange, so it must not
# resume at all (it did, and enrolled as srp:dev2, before tickets were off).
"$ESTKIT_TOOLS/srp_resume" "$SRP_PORT" dev.b64 dev1 'srp secret 1' dev2 wrong > resume.out ||
	fail "srp_resume: $(cat resume.out)"
grep_all '^dev1: resumed=0 HTTP/1.1 200' resume.out || fail "dev1's own enrolment: $(cat resume.out)"
grep_all '^dev2: handshake failed$' resume.out || fail "dev1's session under dev2's name: $(cat resume.out)"
! grep -q 'principal=srp:dev2' "$T/estd.log" || fail "srp:dev2 authenticated without its password"
ok "an SRP session is not resumed: dev1's cannot enrol as dev2"

# The attacker's side: a wrong password and an unknown user look the same.
srp_curl --tlsuser dev1 --tlspassword wrong "$SEST/srp/cacerts" -o /dev/null -w '%{errormsg}\n' > wrong.txt || true
srp_curl --tlsuser nobody --tlspassword wrong "$SEST/srp/cacerts" -o /dev/null -w '%{errormsg}\n' > unknown.txt || true
[ -s wrong.txt ] && grep_all 'bad record mac' wrong.txt || fail "wrong password not refused: $(cat wrong.txt)"
[ "$(cat wrong.txt)" = "$(cat unknown.txt)" ] || fail "unknown user differs: $(cat unknown.txt) / $(cat wrong.txt)"
ok "wrong SRP password and unknown SRP user fail the same way"
expect_status 403 "the srp alias without SRP (certificate TLS)" "$SEST/srp/simpleenroll" \
    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64
code "$SEST/srp/simpleenroll" -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 -o body.txt >/dev/null || true
curl -s --cacert "$TA" -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 "$SEST/srp/simpleenroll" \
    | grep_all 'authenticates by TLS-SRP' || fail "the 403 does not say SRP is needed"
ok "without SRP the srp alias answers 403 naming TLS-SRP"
# Only listeners that say so offer SRP; an SRP listener speaks TLS 1.2 at most.
status=$(srp_curl --tlsuser dev2 --tlspassword other -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 "$EST/srp/simpleenroll" || true)
[ "$status" = 403 ] || [ "$status" = 000 ] || fail "TLS-SRP on the TLS listener (no srp = yes): $status"
if echo | openssl s_client -connect 127.0.0.1:$SRP_PORT -tls1_3 > s13.txt 2>&1; then
	grep_all 'Protocol *: TLSv1.3' s13.txt && fail "the SRP listener speaks TLS 1.3"
fi
echo | openssl s_client -connect 127.0.0.1:$TLS_PORT -tls1_3 2>&1 | grep_all 'TLSv1.3' \
    || fail "the plain TLS listener lost TLS 1.3"
ok "SRP only on the srp listener, which is TLS 1.2 only; other listeners keep TLS 1.3"

# ---- estclient --srp -----------------------------------------------------------
export EST_OPENSSL_CACERT=$TA
printf 'srp secret 1\n' > pw
ec -e -z -s 127.0.0.1 -p $SRP_PORT --path-seg srp -o out --srp --srp-user dev1 --srp-password-file pw --common-name srpdev
expect_rc 0 "estclient -e -z --srp --srp-user --srp-password-file"
[ -s out/cert-0-0.pkcs7 ] || fail "no certificate written"
ec -g -s 127.0.0.1 -p $SRP_PORT --path-seg srp -o out --srp --srp-user dev2 --srp-password other
expect_rc 0 "estclient -g --srp --srp-password (libest's spelling)"
ec -e -s 127.0.0.1 -p $SRP_PORT --path-seg srp -o out --srp --srp-user dev1 --srp-password wrong
expect_rc 5 "estclient --srp with a wrong password"
err_says "TLS-SRP handshake failed"
ec -e -s 127.0.0.1 -p $SRP_PORT --path-seg srp -o out --srp-user dev1 --srp-password-file pw
expect_rc 2 "--srp-user without --srp"
ok "the SRP exchange alone authorizes the server, on TLS 1.2 SRP suites, without a certificate (EST-C-25)"
# The attacker's side: SRP is the only server authentication estclient --srp
# makes, so it must accept no suite but SRP's (zero-knowledge, safe against
# dictionary attacks; none in TLS 1.3). A server without SRP, with a
# certificate no anchor trusts, is sent nothing, the HTTP password least of all.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout evil.key -out evil.pem \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 1 2>/dev/null
printf '{"GET /.well-known/est/srp/cacerts": [{"status": 200, "body": "x"}],
 "POST /.well-known/est/srp/simpleenroll": [{"status": 200, "body": "x", "require_auth": true}]}\n' > evil.json
for tls in --tls12 ""; do
	start_stub evil.json evil.pem evil.key $tls
	ec -e -s 127.0.0.1 -p $STUB_PORT --path-seg srp -o out --srp --srp-user dev2 --srp-password other \
	    -u estuser -h estpwd --common-name srpdev
	expect_rc 5 "estclient --srp against a server without SRP (${tls:-TLS 1.3})"
	[ "$(stub_count)" = 0 ] || fail "estclient --srp sent a request to a server without SRP: $(cat "$T/stub.log")"
done
stop_stub
ok "estclient --srp accepts no certificate suite instead of SRP, nor TLS 1.3: nothing reaches a server without SRP (EST-C-25)"
"$ESTADM" -c var/estd.conf srp del dev1 >/dev/null
ec -g -s 127.0.0.1 -p $SRP_PORT --path-seg srp -o out --srp --srp-user dev1 --srp-password-file pw
expect_rc 5 "a deleted SRP user, at once (the file is read per handshake)"

# ---- configuration ---------------------------------------------------------------
grep -v '^srp-verifiers' var/estd.conf > bad.conf
if "$ESTD" -c bad.conf -n > bad.txt 2>&1; then fail "srp = yes without srp-verifiers was accepted"; fi
grep_all 'srp = yes needs srp-verifiers' bad.txt || fail "no clear message: $(cat bad.txt)"
ok "srp = yes without srp-verifiers: refused at load, naming the key"

finish
