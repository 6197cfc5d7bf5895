#!/usr/bin/env bash
# CA rollover (issue 17, RFC 7030 §4.1.3): estadm ca rollover makes the new
# root and the OldWithNew / NewWithOld certificates; estd serves all four in
# /cacerts, issues under the new key from issue-from, still renews and
# revokes certificates under the old key and publishes the old key's CRL. A
# device holding only the old trust anchor runs estclient renew, ends up
# trusting the new CA and renewed under it; openssl verify checks each step.
# The attacker's side: a /cacerts whose "new root" is not linked to the
# anchor by a real NewWithOld changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

init_demo
cat >> "$T/var/estd.conf" <<'CONF'

[profile short]
validity-seconds = 120
extended-key-usage = clientAuth, serverAuth

[alias short]
mode = ra
ca = ManagementCA
profile = short
authentication = http, certificate
renew-same-key = yes
CONF
start_estd
cd "$T"
export PW=estpwd
cp var/ca.pem old-root.pem

# enrol NAME: NAME/cert.pem, NAME/key.pem and NAME/ta.pem (the CA root of today).
enrol() {
	ec -e -s 127.0.0.1 -p "$TLS_PORT" --path-seg short --trustanchor old-root.pem -u estuser \
	    --password-env PW --common-name "$1" -o "$1" --pem-output
	expect_rc 0 "enrolled $1"
	mv "$1/cert-0-0.pem" "$1/cert.pem"
	mv "$1/key-x-x.pem" "$1/key.pem"
	cp old-root.pem "$1/ta.pem"
}
issuer() { openssl x509 -in "$1" -noout -issuer -nameopt compat | sed 's/^issuer=//'; }
serial() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
OLD_DN=$(openssl x509 -in old-root.pem -noout -subject -nameopt compat | sed 's/^subject=//')

enrol dev
enrol gone
enrol late
openssl verify -CAfile old-root.pem dev/cert.pem >/dev/null || fail "openssl verify (old CA)"
stop_estd

# ---- refusals: nothing written ----
cp var/estd.conf conf.before
rc=0; "$ESTADM" -c var/estd.conf ca rollover NoSuchCA > bad.out 2>&1 || rc=$?
[ $rc = 2 ] && grep_all 'no \[ca NoSuchCA\]' bad.out || fail "unknown CA: exit $rc: $(cat bad.out)"
rc=0; "$ESTADM" -c var/estd.conf ca rollover ManagementCA --issue-from tomorrow > bad.out 2>&1 || rc=$?
[ $rc = 2 ] && grep_all 'issue-from' bad.out || fail "bad --issue-from: exit $rc: $(cat bad.out)"
rc=0; "$ESTADM" -c var/estd.conf ca rollover ManagementCA --days 1 > bad.out 2>&1 || rc=$?
[ $rc = 1 ] && grep_all 'outlive' bad.out || fail "a new root that ends first: exit $rc: $(cat bad.out)"
cmp -s conf.before var/estd.conf && [ ! -e var/ManagementCA-2.key ] && [ ! -e var/ManagementCA-2.pem ] \
    || fail "a refused rollover left files or changed estd.conf"
ok "refused rollovers (unknown CA, bad time, a new root ending first) change nothing"

# ---- the rollover, issuing under the new key only from a later moment ----
"$ESTADM" -c var/estd.conf ca rollover ManagementCA --issue-from 2099-01-01T00:00:00Z > roll.out \
    || fail "estadm ca rollover: $(cat roll.out)"
for f in ManagementCA-2.key ManagementCA-2.pem ManagementCA-2-rollover.pem; do
	[ -s "var/$f" ] || fail "estadm ca rollover did not write var/$f"
done
[ "$(stat -c %a var/ManagementCA-2.key)" = 600 ] || fail "the new CA key is not mode 0600"
grep_all -x '\[ca ManagementCA-2\]' var/estd.conf && grep_all -x 'predecessor = ManagementCA' var/estd.conf \
    || fail "no [ca ManagementCA-2] succeeding ManagementCA in estd.conf"
NEW_DN=$(openssl x509 -in var/ManagementCA-2.pem -noout -subject -nameopt compat | sed 's/^subject=//')
[ "$NEW_DN" != "$OLD_DN" ] || fail "the new root has the old name"
awk '/BEGIN CERT/{n++} n==1' var/ManagementCA-2-rollover.pem > own.pem
awk '/BEGIN CERT/{n++} n==2' var/ManagementCA-2-rollover.pem > nwo.pem
[ "$(openssl x509 -in own.pem -noout -pubkey)" = "$(openssl x509 -in old-root.pem -noout -pubkey)" ] &&
    [ "$(issuer own.pem)" = "$NEW_DN" ] || fail "OldWithNew is not the old key issued by the new CA"
[ "$(openssl x509 -in nwo.pem -noout -pubkey)" = "$(openssl x509 -in var/ManagementCA-2.pem -noout -pubkey)" ] &&
    [ "$(issuer nwo.pem)" = "$OLD_DN" ] || fail "NewWithOld is not the new key issued by the old CA"
openssl verify -CAfile var/ManagementCA-2.pem own.pem >/dev/null || fail "openssl verify OldWithNew under the new root"
openssl verify -CAfile old-root.pem nwo.pem >/dev/null || fail "openssl verify NewWithOld under the old root"
ok "estadm ca rollover: new root, OldWithNew and NewWithOld (openssl verify), [ca ManagementCA-2] added"

"$ESTD" -n -c var/estd.conf > /dev/null || fail "estd -n refuses the configuration after the rollover"
rc=0; "$ESTADM" -c var/estd.conf ca rollover ManagementCA > bad.out 2>&1 || rc=$?
[ $rc = 1 ] && grep_all 'already rolls over to ManagementCA-2' bad.out || fail "a second rollover: exit $rc: $(cat bad.out)"
ok "a second rollover before the first is finished is refused"
start_estd
curl -s --cacert old-root.pem "$EST/short/cacerts" | b64d | openssl pkcs7 -inform DER -print_certs \
    -out bag.pem || fail "/cacerts"
[ "$(grep -c 'BEGIN CERT' bag.pem)" = 4 ] || fail "/cacerts holds $(grep -c 'BEGIN CERT' bag.pem) certificates, not 4"
for c in old-root.pem var/ManagementCA-2.pem own.pem nwo.pem; do
	grep_all -F "$(sed -n 2p "$c")" bag.pem || fail "/cacerts lacks $c"
done
ok "/cacerts serves NewWithNew, NewWithOld, OldWithNew and OldWithOld (EST-S-15)"

# Before issue-from, new certificates still come from the old key.
ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short -c dev/cert.pem -k dev/key.pem \
    --trustanchor dev/ta.pem --force
expect_rc 0 "renewal before issue-from"
[ "$(issuer dev/cert.pem)" = "$OLD_DN" ] || fail "issued by $(issuer dev/cert.pem) before issue-from"
ok "before issue-from the old key issues"

# The device learned the new root already: through NewWithOld, from the anchor it held.
[ "$(openssl x509 -in dev/ta.pem -noout -subject -nameopt compat | sed 's/^subject=//')" = "$NEW_DN" ] \
    || fail "the trust anchor file does not start with the new root"
[ "$(grep -c 'BEGIN CERT' dev/ta.pem)" = 2 ] || fail "the old root should stay until it expires"
cmp -s dev/ta.pem.previous old-root.pem || fail "the old trust anchor was not kept as ta.pem.previous"
grep_all 'rolled over' "$T/ec.err" || fail "renew did not say the CA rolled over: $(cat "$T/ec.err")"
openssl verify -CAfile dev/ta.pem dev/cert.pem >/dev/null || fail "openssl verify with the new anchor file"
ok "the device with only the old root now trusts the new one (trust anchor file replaced, old one kept, openssl reads it; EST-C-10, EST-C-14)"

# ---- from issue-from on, the new key issues ----
stop_estd
sed -i 's/^issue-from = 2099-01-01T00:00:00Z$/issue-from = 2000-01-01T00:00:00Z/' var/estd.conf
start_estd
cp old-root.pem dev/ta.pem   # the device knows only the old root again
ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short -c dev/cert.pem -k dev/key.pem \
    --trustanchor dev/ta.pem --renew-before 10m --chain dev/chain.pem
expect_rc 0 "renewal of an old-key certificate after issue-from"
[ "$(issuer dev/cert.pem)" = "$NEW_DN" ] || fail "not renewed under the new CA: $(issuer dev/cert.pem)"
openssl verify -CAfile dev/ta.pem dev/cert.pem >/dev/null || fail "openssl verify under the new anchor file"
openssl verify -CAfile var/ManagementCA-2.pem dev/cert.pem >/dev/null || fail "openssl verify under the new root"
openssl verify -CAfile old-root.pem -untrusted nwo.pem dev/cert.pem >/dev/null \
    || fail "openssl verify under the old root through NewWithOld"
ok "a device holding only the old root is renewed under the new CA, trusts it (openssl verify 3 ways)"

ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short -c dev/cert.pem -k dev/key.pem \
    --trustanchor dev/ta.pem --force
expect_rc 0 "renewal of a new-key certificate"
[ "$(issuer dev/cert.pem)" = "$NEW_DN" ] || fail "issued by $(issuer dev/cert.pem)"
ok "certificates under the new key renew too"

# estd's TLS certificate reissued under the new CA, NewWithOld after it in the
# file (estadm(8)): a device that slept through the overlap, with only the old
# root, still connects, and moves to the new root.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls2.key -subj /CN=localhost \
    -out tls2.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' > tls2.ext
openssl x509 -req -in tls2.csr -CA var/ManagementCA-2.pem -CAkey var/ManagementCA-2.key -CAcreateserial \
    -days 30 -extfile tls2.ext -out tls2.pem 2>/dev/null
stop_estd
cat tls2.pem nwo.pem > var/tls.pem
cp tls2.key var/tls.key && chmod 0600 var/tls.key
start_estd
rc=0; curl -s -o /dev/null --cacert old-root.pem "$EST/cacerts" || rc=$?
[ $rc = 0 ] || fail "curl with the old root alone refuses the new TLS chain (curl $rc)"
ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short -c late/cert.pem -k late/key.pem \
    --trustanchor late/ta.pem --force
expect_rc 0 "renewal of a device that holds only the old root, estd's TLS certificate under the new CA"
[ "$(issuer late/cert.pem)" = "$NEW_DN" ] || fail "late: issued by $(issuer late/cert.pem)"
openssl verify -CAfile late/ta.pem late/cert.pem >/dev/null || fail "openssl verify late"
ok "estd's TLS certificate under the new CA with NewWithOld: old-root devices still connect and move over"

# ---- the old key's certificates are still revoked and published ----
"$ESTADM" -c var/estd.conf cert revoke "$(serial gone/cert.pem)" > /dev/null
curl -s -o old.crl "http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl"
openssl crl -inform DER -in old.crl -out old-crl.pem
openssl crl -in old-crl.pem -CAfile old-root.pem -noout 2>&1 | grep_all 'verify OK' || fail "the old CRL is not signed by the old key"
openssl crl -in old-crl.pem -noout -text | grep_all "$(serial gone/cert.pem)" || fail "the old CRL does not list the revoked certificate"
rc=0; openssl verify -crl_check -CAfile old-root.pem -CRLfile old-crl.pem gone/cert.pem > verify.out 2>&1 || rc=$?
[ $rc != 0 ] && grep_all 'revoked' verify.out || fail "openssl verify -crl_check accepts the revoked certificate"
curl -s "http://127.0.0.1:$HTTP_PORT/crl/ManagementCA-2.crl" | openssl crl -inform DER -CAfile var/ManagementCA-2.pem \
    -noout 2>&1 | grep_all 'verify OK' || fail "no CRL of the new key"
cp old-root.pem gone/ta.pem
before=$(sha256sum gone/cert.pem gone/key.pem)
ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short -c gone/cert.pem -k gone/key.pem --trustanchor gone/ta.pem --force
expect_rc 5 "a revoked old-key certificate does not renew"
[ "$(sha256sum gone/cert.pem gone/key.pem)" = "$before" ] || fail "files touched"
ok "old-key certificates are revoked on the old key's CRL (openssl verify -crl_check) and stop renewing"

# ---- the attacker's /cacerts: a "new root" with a NewWithOld it signed itself ----
mkdir rogue && cd rogue
make_stub_pki     # ca.pem: the anchor the device holds; srv.pem: the server's TLS certificate
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev.key 2>/dev/null
chmod 0600 dev.key
cert_for dev.key dev dev.pem
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.pem \
    -subj "/CN=Rogue Root" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -new -key rogue.key -subj "/CN=Rogue Root" -out rogue.csr
# "NewWithOld" from a CA that only has the old CA's name, not its key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fake-old.key -out fake-old.pem \
    -subj "/CN=Stub CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl x509 -req -in rogue.csr -CA fake-old.pem -CAkey fake-old.key -CAcreateserial -days 2 \
    -extfile ca.ext -out fake-nwo.pem 2>/dev/null
[ "$(openssl x509 -in fake-nwo.pem -noout -issuer)" = "issuer=CN = Stub CA" ] || fail "test setup: fake NewWithOld"
for bag in "rogue.pem fake-nwo.pem ca.pem" "rogue.pem fake-nwo.pem"; do
	cat $bag > bag.pem
	certs_only bag.pem cacerts.b64
	printf '%s\n' '{"GET /.well-known/est/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}]}' > rogue.json
	start_stub rogue.json srv.pem srv.key
	cp ca.pem ta.pem
	ec renew --server "https://127.0.0.1:$STUB_PORT" -c dev.pem -k dev.key --trustanchor ta.pem --force --retries 0
	expect_rc 7 "a /cacerts with an unlinked new root is refused ($bag)"
	err_says "refused"
	cmp -s ta.pem ca.pem && [ ! -e ta.pem.previous ] || fail "the trust anchor file changed"
	! grep -q simplereenroll "$T/stub.log" || fail "renew went on to /simplereenroll"
	stop_stub
done
# An anchor that is an intermediate below the root does not become the root.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout inter.key -subj "/CN=Stub Issuing CA" \
    -out inter.csr 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' > inter.ext
openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile inter.ext \
    -out inter.pem 2>/dev/null
openssl req -new -key dev.key -subj /CN=dev -out idev.csr
printf 'subjectKeyIdentifier=hash\n' > leaf.ext
openssl x509 -req -in idev.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 2 -extfile leaf.ext -out idev.pem 2>/dev/null
openssl x509 -req -in idev.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 2 -extfile leaf.ext -out idev2.pem 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv2.key -subj /CN=srv2 \
    -out srv2.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=hash\n' > srv2.ext
openssl x509 -req -in srv2.csr -CA inter.pem -CAkey inter.key -CAcreateserial -days 2 -extfile srv2.ext \
    -out srv2.pem 2>/dev/null
cat inter.pem >> srv2.pem
cat ca.pem inter.pem > bag.pem && certs_only bag.pem cacerts.b64
cat idev2.pem inter.pem > answer.pem && certs_only answer.pem answer.b64
printf '%s\n' '{"GET /.well-known/est/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST /.well-known/est/simplereenroll": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime; smime-type=certs-only"}, "body_file": "answer.b64"}]}' > inter.json
start_stub inter.json srv2.pem srv2.key
cp inter.pem ta.pem
ec renew --server "https://127.0.0.1:$STUB_PORT" -c idev.pem -k dev.key --trustanchor ta.pem --force --same-key \
    --retries 0
# (estclient verifies issued certificates up to a self-signed anchor: this
# renewal is refused, after the /cacerts look that must not touch the file.)
[ "$RC" = 0 ] || [ "$RC" = 7 ] || fail "renewal with an intermediate anchor: exit $RC: $(cat "$T/ec.err")"
cmp -s ta.pem inter.pem && [ ! -e ta.pem.previous ] || fail "the intermediate anchor was replaced by the root"
stop_stub
cd "$T"
ok "a rogue root the anchor does not sign leaves the trust anchor alone and renews nothing (EST-C-12)"
ok "an intermediate trust anchor stays an intermediate: only a NewWithOld from the anchor moves it"

finish
