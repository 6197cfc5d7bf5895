#!/usr/bin/env bash
# Seed 004 (EJBCA "EST Client Mode Configuration"), client mode with a
# challenge password, against the configuration `estadm init` writes: the
# seed's steps with curl as written there (host and port adapted), then the
# negative cases: wrong code, reused code, another user's code, unknown
# user, and one one-time code raced by parallel requests. Also the DN-part
# password (DnPartPwd) on an extra alias.
. "$(dirname "$0")/lib.sh"

init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
# The pre-registration the seed does in EJBCA ("Common Name '123456789' and
# challenge password 'password'").
"${ADM[@]}" ee add --username 123456789 --dn "CN=123456789" --alias est --password - <<< password >/dev/null
"${ADM[@]}" ee show 123456789 | grep_all 'uses left:     1' || fail "ee show does not show one use"
! grep -q password "$T/var/estkit.db" || fail "the enrolment code is stored in clear"
ok "end entity 123456789 registered, code stored hashed"

# Two workers for the race below; an extra alias for DnPartPwd: the code is
# the CSR's serialNumber. Every request comes from 127.0.0.1 and more than
# ten fail on purpose, so the address gets a higher failure limit than the
# default (test_ratelimit.sh tests the limit).
sed -i 's/^\[server\]$/[server]\nworkers = 2\nauth-fail-limit = 100/' "$T/var/estd.conf"
cat >> "$T/var/estd.conf" <<'EOF'

[alias dnpart]
ca = ManagementCA
profile = tls-client
username-component = CN
authentication = dn-part-password:serialNumber
EOF
start_estd
cd "$T"
cp "$TA" ManagementCA.cacert.pem

# cacerts, as the seed's `estclient -g ... --pem-output` gets it (EST-S-10).
curl -s --cacert ManagementCA.cacert.pem -o cacerts.p7 "$EST/est/cacerts"
p7_to_pem cacerts.p7 cacert-0-0.pem
openssl x509 -in cacert-0-0.pem -noout -subject | grep_all 'estkit Demo CA' || fail "cacerts is not the CA"
cmp -s <(openssl x509 -in cacert-0-0.pem) <(openssl x509 -in "$TA") || fail "cacerts differs from ca.pem"
ok "cacerts of alias est in PEM"

# The seed's openssl.conf, answered as the seed says.
cat > openssl.conf <<'EOF'
[ req ]
distinguished_name     = req_distinguished_name
attributes             = req_attributes

[ req_distinguished_name ]
commonName                     = Common Name (eg, YOUR name)
commonName_max                 = 64

[ req_attributes ]
challengePassword              = A challenge password
challengePassword_min          = 4
challengePassword_max          = 20
EOF
# mkreq OUT [key args...]: a CSR from openssl.conf for CN $CN with code $PW.
mkreq() {
	local out=$1; shift
	printf '%s\n%s\n' "$CN" "$PW" | openssl req "$@" -out "$out" -config openssl.conf 2>/dev/null
	openssl req -in "$out" -outform DER -out "$out.der"
	openssl base64 -in "$out.der" -out "${out%.csr}.b64" -e
}
CN=123456789 PW=password mkreq device.csr -nodes -newkey rsa:2048 -keyout device.key
openssl req -in device.csr -text -noout | grep_all 'challengePassword *:password' \
    || fail "the CSR does not carry the challenge password"

# The seed's curl enrolment, verbatim but for host and port.
curl -s --cacert ManagementCA.cacert.pem --data @device.b64 -o device-p7.b64 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" https://127.0.0.1:$TLS_PORT/.well-known/est/est/simpleenroll
openssl base64 -in device-p7.b64 -out device-p7.der -d
openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem 2>/dev/null \
    || fail "enrolment did not return a certificate: $(cat device-p7.b64)"
openssl x509 -in device-cert.pem -noout -subject | grep_all 'CN = 123456789' || fail "wrong subject"
openssl x509 -in device-cert.pem -noout -issuer | grep_all 'estkit Demo CA' || fail "wrong issuer"
ok "client mode: enrolled 123456789 with its challenge password (curl, as in the seed)"
"${ADM[@]}" ee show 123456789 > show.txt
grep -q 'uses left:     0' show.txt || fail "the use was not spent"
grep -q "$(openssl x509 -in device-cert.pem -noout -serial | cut -d= -f2 | sed "s/^0*//")" show.txt \
    || fail "the certificate is not linked to the end entity"
ok "the code is spent and the certificate linked to the end entity"

# The same code again: spent. Every failure is the same 401 to the client.
PK=(-H "Content-Type: application/pkcs10")
expect_status 401 "reused one-time code" "$EST/est/simpleenroll" "${PK[@]}" --data @device.b64
CN=123456789 PW=wrongpass mkreq wrong.csr -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout wrong.key
"${ADM[@]}" ee add --username other --dn "CN=other" --alias est --password - <<< otherpass >/dev/null
"${ADM[@]}" ee reset 123456789 --password - <<< password >/dev/null
expect_status 401 "wrong code" "$EST/simpleenroll" "${PK[@]}" --data @wrong.b64
CN=123456789 PW=otherpass mkreq another.csr -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout another.key
expect_status 401 "another user's code" "$EST/simpleenroll" "${PK[@]}" --data @another.b64
CN=nobody PW=password mkreq nobody.csr -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout nobody.key
expect_status 401 "unknown user" "$EST/simpleenroll" "${PK[@]}" --data @nobody.b64
for f in wrong another nobody; do
	curl -s --cacert "$TA" "${PK[@]}" --data @$f.b64 "$EST/simpleenroll"
done | sort -u > bodies.txt
[ "$(cat bodies.txt)" = "authentication failed" ] || fail "failures answer differently: $(cat bodies.txt)"
grep -q 'wrong enrolment code for end entity 123456789' estd.log || fail "log does not say the code was wrong"
# The access log quotes the reason, escaping the quotes in it (docs/logs.md).
grep -q 'no end entity \\"nobody\\"' estd.log || fail "log does not name the unknown user"
grep -q 'spent its enrolment code' estd.log || fail "log does not say the code was spent"
ok "wrong, reused, foreign and unknown codes: one answer, the log says which"

# Re-enrol on the mutual-TLS port with the same key (the seed's estclient -r).
status=$(curl -s -o renew.b64 -w '%{http_code}' --cacert ManagementCA.cacert.pem --cert device-cert.pem \
    --key device.key "${PK[@]}" --data @device.b64 "https://127.0.0.1:$MTLS_PORT/.well-known/est/simplereenroll")
[ "$status" = 200 ] || fail "same-key renewal gave $status: $(cat renew.b64)"
p7_to_pem renew.b64 renewed.pem
[ "$(openssl x509 -in renewed.pem -pubkey -noout)" = "$(openssl x509 -in device-cert.pem -pubkey -noout)" ] \
    || fail "renewal changed the key"
"${ADM[@]}" ee show 123456789 | grep_all "$(openssl x509 -in renewed.pem -noout -serial | cut -d= -f2 | sed "s/^0*//")" \
    || fail "the renewed certificate is not linked to the end entity"
ok "renewal with the same key on the mutual-TLS port"

# Revoke, and renewal is refused (the seed revokes in the CA UI).
"${ADM[@]}" cert revoke "$(openssl x509 -in renewed.pem -noout -serial | cut -d= -f2)" >/dev/null
expect_status 403 "renewal with a revoked certificate" "https://127.0.0.1:$MTLS_PORT/.well-known/est/simplereenroll" \
    --cert renewed.pem --key device.key "${PK[@]}" --data @device.b64

# Enrol with an EC P-256 key (the end entity was reset above), then renew it.
openssl ecparam -name prime256v1 -genkey -noout -out prime256v1-key.pem
CN=123456789 PW=password mkreq device-ec.csr -nodes -new -key prime256v1-key.pem
status=$(curl -s -o ec.b64 -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data @device-ec.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "EC enrolment gave $status"
p7_to_pem ec.b64 ec.pem
openssl x509 -in ec.pem -noout -text | grep_all 'prime256v1' || fail "not an EC P-256 certificate"
status=$(curl -s -o ec-renew.b64 -w '%{http_code}' --cacert "$TA" --cert ec.pem --key prime256v1-key.pem \
    "${PK[@]}" --data @device-ec.b64 "$MEST/est/simplereenroll")
[ "$status" = 200 ] || fail "EC same-key renewal gave $status"
ok "EC P-256 enrolment and same-key renewal"

# One one-time code, 8 parallel requests: exactly one certificate.
"${ADM[@]}" ee add --username race --dn "CN=race,O=Race" --alias est --password - <<< racecode >/dev/null
CN=race PW=racecode mkreq race.csr -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout race.key
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -s -o /dev/null -w '%{http_code}\n' --cacert "$TA" "${PK[@]}" --data @race.b64 "$EST/simpleenroll" >race$i.txt &
	pids+=($!)
done
wait "${pids[@]}"
cat race?.txt > race.txt
[ "$(grep -c '^200$' race.txt)" = 1 ] || fail "parallel enrolments with one code: $(sort race.txt | uniq -c | tr '\n' ' ')"
[ "$(grep -c '^401$' race.txt)" = 7 ] || fail "the losers did not get 401: $(sort race.txt | uniq -c | tr '\n' ' ')"
[ "$("${ADM[@]}" cert list --subject race | grep -c valid)" = 1 ] || fail "more than one certificate recorded"
ok "8 parallel enrolments with one one-time code: exactly one certificate"

# Subject and SAN come from the registration, not from the CSR.
"${ADM[@]}" ee add --username dev7 --dn "CN=dev7,O=Registered,C=SE" --san dns:dev7.example,ip:10.0.0.7 \
    --alias est --password - <<< code7777 >/dev/null
CN=dev7 PW=code7777 mkreq dev7.csr -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout dev7.key \
    -addext "subjectAltName=DNS:evil.example"
status=$(curl -s -o dev7.b64r -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data @dev7.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "dev7 enrolment gave $status"
p7_to_pem dev7.b64r dev7.pem
openssl x509 -in dev7.pem -noout -subject -nameopt RFC2253 | grep_all 'CN=dev7,O=Registered,C=SE' \
    || fail "subject not from the registration: $(openssl x509 -in dev7.pem -noout -subject)"
openssl x509 -in dev7.pem -noout -ext subjectAltName | grep_all 'DNS:dev7.example, IP Address:10.0.0.7' \
    || fail "SAN not from the registration"
! openssl x509 -in dev7.pem -noout -text | grep_all evil || fail "the CSR's SAN was certified"
ok "subject and SAN from the registration, not from the CSR"

# DnPartPwd: the code in the CSR's serialNumber, which is not certified.
"${ADM[@]}" ee add --username dev9 --dn "CN=dev9" --alias dnpart --password - <<< code-9 >/dev/null
mkcsr dev9 -subj "/CN=dev9/serialNumber=code-9"
status=$(curl -s -o dev9.p7 -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data @dev9.b64 "$EST/dnpart/simpleenroll")
[ "$status" = 200 ] || fail "DN-part password enrolment gave $status"
p7_to_pem dev9.p7 dev9.pem
! openssl x509 -in dev9.pem -noout -subject | grep_all code-9 || fail "the code was certified"
mkcsr dev9b -subj "/CN=dev9/serialNumber=wrong"
expect_status 401 "DN-part password, wrong code" "$EST/dnpart/simpleenroll" "${PK[@]}" --data @dev9b.b64
ok "DN part as password (DnPartPwd)"

# Seed 000's HTTP credentials still work on the same default path.
mkcsr http000
expect_status 200 "HTTP user on the default alias (seed 000)" "$EST/simpleenroll" "${PK[@]}" \
    --data-binary @http000.b64 --anyauth -u estuser:estpwd

finish
