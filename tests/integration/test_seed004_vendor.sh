#!/usr/bin/env bash
# Seed 004 (EJBCA "EST Client Mode Configuration"), vendor mode: the alias
# estvendor of `estadm init` trusts the seed's Vendor Sub CA; the seed's
# vendor certificate (tests/fixtures/vendor/) enrols the pre-registered
# 1234.primekey.com over mutual TLS, which then renews with a new key. The
# seed's curl lines are used as written (host and port adapted). Negative
# cases: a vendor certificate from a CA the alias does not list, an expired
# one, ChangeSubjectName where not allowed and on renewal, renewal with
# another subject or the same key, a spent registration, a revoked device.
. "$(dirname "$0")/lib.sh"

FIX="$ESTKIT_SRC/tests/fixtures/vendor"
CSN="$ESTKIT_TOOLS/csr_change_subject"
init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
cd "$T"
cp "$FIX/vendor-cert.pem" "$FIX/vendor-key.pem" .
chmod 600 vendor-key.pem

"${ADM[@]}" ca list > calist.txt
grep -q 'VendorSubCA .*CN=Vendor SubCA EC384' calist.txt || fail "init did not import the vendor sub CA"
grep -q 'VendorRootCA .*CN=Vendor Root CA EC384' calist.txt || fail "init did not import the vendor root CA"
ok "estadm init imported the seed's vendor CAs"

# A second vendor, with its own root, a valid and an expired device
# certificate, imported but listed only by another alias.
mkdir -p other/newcerts && touch other/index.txt && echo 01 > other/serial
cat > other/ca.conf <<'EOF'
[ ca ]
default_ca = other
[ other ]
dir = other
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationName = optional
countryName = optional
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other/ca.key -out other/ca.pem \
    -subj "/CN=Other Vendor Root" -days 30 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
for dev in valid expired; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other/$dev.key \
	    -subj "/CN=other-device/O=PrimeKey/C=SE" -out other/$dev.csr 2>/dev/null
done
openssl ca -batch -config other/ca.conf -in other/valid.csr -out other/valid.pem -days 10 2>/dev/null
openssl ca -batch -config other/ca.conf -in other/expired.csr -out other/expired.pem \
    -startdate 20200101000000Z -enddate 20200102000000Z 2>/dev/null
"${ADM[@]}" ca import --external OtherVendor other/ca.pem >/dev/null
cat >> var/estd.conf <<'EOF'

[alias othervendor]
ca = ManagementCA
profile = tls-client
vendor-mode = yes
vendor-cas = OtherVendor
allow-change-subject-name = no
EOF

# Pre-registration as the seed's `ejbca.sh ra addendentity` does it.
"${ADM[@]}" ee add --username 1234.primekey.com --dn "CN=1234.primekey.com,O=PrimeKey,C=SE" --alias estvendor --password - <<< ZUhgGPuu-doesnt-matter-randomize >/dev/null
"${ADM[@]}" ee add --username other-device --dn "CN=other-device" --alias othervendor \
    --password - <<< x --unlimited >/dev/null
start_estd
cp "$TA" ManagementCA.cacert.pem
PK=(-H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64")
VEST="https://localhost:$MTLS_PORT/.well-known/est/estvendor"

# The seed's vendor-mode workflow with curl.
curl -s https://localhost:$TLS_PORT/.well-known/est/estvendor/cacerts -o cacerts.p7 --cacert ManagementCA.cacert.pem
p7_to_pem cacerts.p7 cacerts.pem
openssl x509 -in cacerts.pem -noout -subject | grep_all 'estkit Demo CA' || fail "estvendor cacerts"
openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -outform DER -subj "/CN=1234.primekey.com/O=PrimeKey/C=SE" 2>/dev/null
openssl base64 -in device.csr -out device.b64 -e
curl -s --cacert ManagementCA.cacert.pem --cert vendor-cert.pem --key vendor-key.pem --data @device.b64 -o device-p7.b64 -H "Content-Type: application/pkcs10" \
-H "Content-Transfer-Encoding: base64" https://localhost:$MTLS_PORT/.well-known/est/estvendor/simpleenroll
openssl base64 -in device-p7.b64 -out device-p7.der -d
openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem 2>/dev/null \
    || fail "vendor enrolment did not return a certificate: $(cat device-p7.b64)"
openssl x509 -in device-cert.pem -noout -subject -nameopt RFC2253 | grep_all 'CN=1234.primekey.com,O=PrimeKey,C=SE' \
    || fail "wrong subject: $(openssl x509 -in device-cert.pem -noout -subject)"
openssl x509 -in device-cert.pem -noout -issuer | grep_all 'estkit Demo CA' || fail "not issued by ManagementCA"
grep -q 'principal=vendor:1234.primekey.com' estd.log || fail "the log does not name the vendor principal"
ok "vendor mode: 1234.primekey.com enrolled with the seed's vendor certificate"

# Its registration is spent: the vendor certificate alone does not enrol again.
expect_status 403 "second vendor enrolment of a spent registration" "$VEST/simpleenroll" \
    --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @device.b64

# Renew with a new key, authenticated by the issued certificate (the seed's lines).
openssl req -nodes -newkey rsa:2048 -keyout device-new.key -out device-new.csr -outform DER -subj "/CN=1234.primekey.com/O=PrimeKey/C=SE" 2>/dev/null
openssl base64 -in device-new.csr -out device-new.b64 -e
curl -s --cacert ManagementCA.cacert.pem --key device.key --cert device-cert.pem --data @device-new.b64 -o device-new-p7.b64 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" https://localhost:$MTLS_PORT/.well-known/est/estvendor/simplereenroll
openssl base64 -in device-new-p7.b64 -out device-new-p7.der -d
openssl pkcs7 -inform DER -in device-new-p7.der -print_certs -out device-new-cert.pem 2>/dev/null \
    || fail "vendor renewal did not return a certificate: $(cat device-new-p7.b64)"
[ "$(openssl x509 -in device-new-cert.pem -pubkey -noout)" = "$(openssl pkey -in device-new.key -pubout)" ] \
    || fail "the renewed certificate does not hold the new key"
"${ADM[@]}" ee show 1234.primekey.com | grep -c ' valid until' | grep_all 2 || fail "renewal not linked to the end entity"
ok "renewal with a new key, linked to the end entity"

# Renewal rules of the alias: same key refused (renew-same-key = no), another subject refused.
expect_status 403 "same-key renewal where the alias refuses it" "$VEST/simplereenroll" \
    --cert device-new-cert.pem --key device-new.key "${PK[@]}" --data @device-new.b64
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout other.key -outform DER \
    -out other.csr -subj "/CN=5678.primekey.com/O=PrimeKey/C=SE" 2>/dev/null
openssl base64 -in other.csr -out other.b64 -e
expect_status 403 "renewal with another subject" "$VEST/simplereenroll" \
    --cert device-new-cert.pem --key device-new.key "${PK[@]}" --data @other.b64
"$CSN" other.key "CN=1234.primekey.com,O=PrimeKey,C=SE" "CN=1234.primekey.com,O=PrimeKey,C=SE" csn-renew.der
openssl base64 -in csn-renew.der -out csn-renew.b64 -e
expect_status 403 "ChangeSubjectName on renewal (EST-S-54)" "$VEST/simplereenroll" \
    --cert device-new-cert.pem --key device-new.key "${PK[@]}" --data @csn-renew.b64
grep -q 'ChangeSubjectName is not honoured on renewal' estd.log || fail "log does not say why"
# With ChangeSubjectName the names may differ (EST-S-54): the refusal is the policy on the
# attribute, not the names' difference.
"$CSN" other.key "CN=5678.primekey.com,O=PrimeKey,C=SE" "CN=1234.primekey.com,O=PrimeKey,C=SE" csn-renew2.der
openssl base64 -in csn-renew2.der -out csn-renew2.b64 -e
n=$(grep -c 'ChangeSubjectName is not honoured on renewal' estd.log)
expect_status 403 "ChangeSubjectName on renewal, to another subject (EST-S-54)" "$VEST/simplereenroll" \
    --cert device-new-cert.pem --key device-new.key "${PK[@]}" --data @csn-renew2.b64
[ "$(grep -c 'ChangeSubjectName is not honoured on renewal' estd.log)" = $((n + 1)) ] \
    || fail "the refusal is not the policy on ChangeSubjectName: $(tail -n 1 estd.log)"

# ChangeSubjectName on a first vendor enrolment: honoured where allowed, to the subject
# registered to the end entity the vendor certificate names (issue 9).
"${ADM[@]}" ee del 1234.primekey.com >/dev/null
"${ADM[@]}" ee add --username 1234.primekey.com --dn "CN=renamed.primekey.com,O=PrimeKey,C=SE" \
    --alias estvendor --password - <<< again >/dev/null
"${ADM[@]}" ee add --username victim --dn "CN=dev-b,O=Victim" --san dns:dev-b.victim.example,ip:10.0.0.5 \
    --alias estvendor --password - <<< victimcode >/dev/null
# The attacker's tries first: an empty ChangeSubjectName (400), a subject registered to another
# end entity, one registered to nobody, and an old subject that is not the vendor certificate's.
"$CSN" other.key "CN=renamed.primekey.com,O=PrimeKey,C=SE" - csn-empty.der
openssl base64 -in csn-empty.der -out csn-empty.b64 -e
expect_status 400 "an empty ChangeSubjectName (ASN-04)" "$VEST/simpleenroll" \
    --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @csn-empty.b64
grep -q 'ChangeSubjectName must hold a subject' estd.log || fail "log does not say why"
"$CSN" other.key "CN=dev-b,O=Victim" "CN=1234.primekey.com,O=PrimeKey,C=SE" csn-victim.der
openssl base64 -in csn-victim.der -out csn-victim.b64 -e
expect_status 403 "ChangeSubjectName to another end entity's subject" "$VEST/simpleenroll" \
    --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @csn-victim.b64
"$CSN" other.key "CN=localhost" "CN=1234.primekey.com,O=PrimeKey,C=SE" csn-nobody.der
openssl base64 -in csn-nobody.der -out csn-nobody.b64 -e
expect_status 403 "ChangeSubjectName to a subject registered to nobody" "$VEST/simpleenroll" \
    --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @csn-nobody.b64
grep -q 'the new subject is not the one registered to end entity 1234.primekey.com' estd.log \
    || fail "log does not say why"
# The right subject, but another end entity's SAN with it (found in review: the SAN went
# unchecked once the subject was found to be the asker's own).
"$CSN" other.key "CN=renamed.primekey.com,O=PrimeKey,C=SE" "CN=1234.primekey.com,O=PrimeKey,C=SE" \
    csn-san.der "dns:DEV-B.victim.example,ip:10.0.0.5"
openssl base64 -in csn-san.der -out csn-san.b64 -e
expect_status 403 "ChangeSubjectName with another end entity's SAN" "$VEST/simpleenroll" \
    --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @csn-san.b64
grep -q 'registered to end entity victim' estd.log || fail "log does not say whose names they are"
"$CSN" other.key "CN=renamed.primekey.com,O=PrimeKey,C=SE" "CN=someone-else" csn-old.der
openssl base64 -in csn-old.der -out csn-old.b64 -e
expect_status 403 "ChangeSubjectName from another subject than the vendor certificate's" \
    "$VEST/simpleenroll" --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @csn-old.b64
"$CSN" other.key "CN=renamed.primekey.com,O=PrimeKey,C=SE" "CN=1234.primekey.com,O=PrimeKey,C=SE" csn.der
openssl base64 -in csn.der -out csn.b64 -e
status=$(curl -s -o csn.p7 -w '%{http_code}' --cacert "$TA" --cert vendor-cert.pem --key vendor-key.pem \
    "${PK[@]}" --data @csn.b64 "$VEST/simpleenroll")
[ "$status" = 200 ] || fail "ChangeSubjectName enrolment gave $status: $(cat csn.p7)"
p7_to_pem csn.p7 csn.pem
openssl x509 -in csn.pem -noout -subject | grep_all 'CN = renamed.primekey.com' || fail "subject not changed"
ok "ChangeSubjectName honoured where allowed (RFC 7030 §4.2.1, EST-S-45, ASN-04)"

# Other principals: a policy refusal (403), never a 5xx (EST-S-45). An HTTP user gets the CSR's
# names under the name rules already, and a certificate only its own.
expect_status 403 "ChangeSubjectName from an HTTP user (EST-S-45)" "$EST/simpleenroll" \
    -u estuser:estpwd "${PK[@]}" --data @csn.b64
grep -q 'ChangeSubjectName is honoured only for vendor certificates' estd.log || fail "log does not say why"

# ... and refused where not (alias othervendor), with an otherwise good vendor certificate.
"$CSN" other/valid.key "CN=renamed,O=PrimeKey,C=SE" "CN=other-device,O=PrimeKey,C=SE" csn2.der
openssl base64 -in csn2.der -out csn2.b64 -e
OEST="https://localhost:$MTLS_PORT/.well-known/est/othervendor"
expect_status 403 "ChangeSubjectName where not allowed" "$OEST/simpleenroll" \
    --cert other/valid.pem --key other/valid.key "${PK[@]}" --data @csn2.b64
grep -q 'does not allow ChangeSubjectName' estd.log || fail "log does not say why"
openssl req -new -key other/valid.key -subj "/CN=other-device" -outform DER -out o.csr
openssl base64 -in o.csr -out o.b64 -e
expect_status 200 "the same certificate without ChangeSubjectName on its own alias" "$OEST/simpleenroll" \
    --cert other/valid.pem --key other/valid.key "${PK[@]}" --data @o.b64

# A vendor certificate under a CA this alias does not list, and an expired one.
expect_status 403 "vendor certificate from a CA the alias does not list" "$VEST/simpleenroll" \
    --cert other/valid.pem --key other/valid.key "${PK[@]}" --data @o.b64
grep -q 'alias=estvendor op=simpleenroll .*client certificate not trusted' estd.log || fail "log does not say why"
# The handshake accepts it (the server trusts its CA), but it renews nothing of our CA's.
expect_status 403 "a vendor certificate renewing at an alias of our own CA" "$MEST/simplereenroll" \
    --cert other/valid.pem --key other/valid.key "${PK[@]}" --data @o.b64
grep -q 'alias=est op=simplereenroll .*client certificate not trusted' estd.log || fail "log does not say why"
expect_status 403 "expired vendor certificate" "$OEST/simpleenroll" \
    --cert other/expired.pem --key other/expired.key "${PK[@]}" --data @o.b64
grep -q 'certificate has expired' estd.log || fail "log does not say the vendor certificate expired"
expect_status 403 "vendor alias without a client certificate" \
    "https://localhost:$TLS_PORT/.well-known/est/estvendor/simpleenroll" "${PK[@]}" --data @device.b64

# Revoke the device: renewal refused, and no way back by the vendor certificate.
"${ADM[@]}" cert revoke "$(openssl x509 -in device-new-cert.pem -noout -serial | cut -d= -f2)" >/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout d3.key -outform DER -out d3.csr \
    -subj "/CN=1234.primekey.com/O=PrimeKey/C=SE" 2>/dev/null
openssl base64 -in d3.csr -out d3.b64 -e
expect_status 403 "renewal of a revoked device" "$VEST/simplereenroll" \
    --cert device-new-cert.pem --key device-new.key "${PK[@]}" --data @d3.b64
expect_status 403 "a revoked device's vendor certificate after its registration is spent" \
    "$VEST/simpleenroll" --cert vendor-cert.pem --key vendor-key.pem "${PK[@]}" --data @d3.b64

finish
