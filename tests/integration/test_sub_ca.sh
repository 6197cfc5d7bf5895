#!/usr/bin/env bash
# A CA of this server below another one (a subordinate CA with an alias of its
# own): its certificates are its own, not the parent CA's. Their holders renew
# at the subordinate's alias; at the parent's alias they are refused, since
# there they would obtain the parent CA's certificate for names the parent
# alias's rules deny (the demo alias denies localhost; the subordinate's here
# allows it). Found in review: any CA on the path above the leaf was taken.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T/var"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sub.key \
	-subj "/CN=Sub CA" -out sub.csr 2>/dev/null
printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' \
	'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid' > sub.ext
openssl x509 -req -in sub.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 \
	-extfile sub.ext -out sub.pem 2>/dev/null || fail "cannot make the subordinate CA"
chmod 600 sub.key
cat >> estd.conf <<EOF

[ca SubCA]
certificate = sub.pem
key = sub.key
chain = ca.pem

[alias sub]
mode = client
ca = SubCA
profile = tls-client
authentication = challenge-password, http, certificate
deny-dns-names = none
deny-ip-ranges = none
EOF
start_estd
cd "$T"

# A holder of the subordinate CA's certificate for localhost.
mkcsr lh -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
st=$(post_csr simpleenroll lh.b64 lh.p7 -u estuser:estpwd "$EST/sub/simpleenroll")
[ "$st" = 200 ] || fail "enrolment at the subordinate's alias gave HTTP $st: $(cat lh.p7)"
p7_to_pem lh.p7 lh.pem
openssl x509 -in lh.pem -noout -issuer | grep -q "Sub CA" || fail "not issued by the subordinate CA"
cat lh.pem var/sub.pem > lh-chain.pem
# The password holder is refused these names at the parent's alias (the user's side).
st=$(post_csr simpleenroll lh.b64 est.out -u estuser:estpwd "$EST/simpleenroll")
[ "$st" = 403 ] || fail "localhost at the demo alias with a password gave HTTP $st"
ok "the demo alias denies localhost to a password holder"

# The attacker's side: the same names, by the subordinate's certificate, at the parent's alias.
st=$(post_csr simplereenroll lh.b64 parent.out --cert lh-chain.pem --key lh.key "$MEST/simplereenroll")
[ "$st" = 403 ] || fail "renewal at the parent's alias with the subordinate's certificate gave HTTP $st"
grep -q "not issued by CA ManagementCA" parent.out ||
	fail "renewal at the parent's alias: unexpected reason: $(cat parent.out)"
# /simpleenroll tries the alias's other methods after the certificate: asked for a password.
st=$(post_csr simpleenroll lh.b64 parent.out --cert lh-chain.pem --key lh.key "$MEST/simpleenroll")
[ "$st" = 401 ] || fail "enrolment at the parent's alias with the subordinate's certificate gave HTTP $st"
ok "a subordinate CA's certificate neither enrols nor renews at the parent CA's alias"

# The user's side: it renews where it was issued.
st=$(post_csr simplereenroll lh.b64 renewed.p7 --cert lh-chain.pem --key lh.key "$MEST/sub/simplereenroll")
[ "$st" = 200 ] || fail "renewal at the subordinate's alias gave HTTP $st: $(cat renewed.p7)"
p7_to_pem renewed.p7 renewed.pem
openssl x509 -in renewed.pem -noout -issuer | grep -q "Sub CA" || fail "the renewal is not the subordinate's"
ok "it renews at its own alias"

# A CA of the same name with another key would share the subordinate's records
# and CRL entries (the store knows an issuer by its name): refused at start-up.
check_estd_exit
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout var/twin.key \
	-subj "/CN=Sub CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out var/twin.pem 2>/dev/null
chmod 600 var/twin.key
printf '\n[ca TwinCA]\ncertificate = twin.pem\nkey = twin.key\n' >> var/estd.conf
if "$ESTD" -c var/estd.conf --check > twin.out 2>&1; then
	fail "estd accepted two CAs of one name: $(cat twin.out)"
fi
grep -q "CA TwinCA has the subject name of CA SubCA with another key" twin.out ||
	fail "unexpected: $(cat twin.out)"
ok "two CAs of one name and different keys are refused"

finish
