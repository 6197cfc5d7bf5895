#!/usr/bin/env bash
# /simplereenroll (RFC 7030 §4.2.2, est-conformance.md §8): authenticated by
# the certificate being renewed over mutual TLS; same subject and SAN; same
# key or a new one; revoked certificates cannot renew.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
PK=(-H 'Content-Type: application/pkcs10')

# First enrolment, with a SAN the renewal must keep.
mkcsr dev -addext "subjectAltName=DNS:dev.example,IP:10.0.0.7"
status=$(curl -s -o dev.p7 -w '%{http_code}' --cacert "$TA" --anyauth -u estuser:estpwd "${PK[@]}" \
    --data-binary @dev.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "enrolment gave $status"
p7_to_pem dev.p7 dev.pem
openssl x509 -in dev.pem -noout -ext subjectAltName | grep_all 'DNS:dev.example, IP Address:10.0.0.7' \
    || fail "SAN not copied from the CSR"
ok "enrolled dev with SAN"

CERT=(--cert dev.pem --key dev.key)
expect_status 403 "reenroll without a client certificate (EST-S-52)" "$EST/simplereenroll" \
    "${PK[@]}" --data-binary @dev.b64 -u estuser:estpwd
curl -s --cacert "$TA" "${PK[@]}" --data-binary @dev.b64 "$EST/simplereenroll" | grep_all 'client certificate' \
    || fail "403 does not say a client certificate is needed"

# Renew with the same key (EST-S-53 renew).
status=$(curl -s -o renew.p7 -w '%{http_code}' --cacert "$TA" "${CERT[@]}" "${PK[@]}" \
    --data-binary @dev.b64 "$MEST/simplereenroll")
[ "$status" = 200 ] || fail "same-key renewal gave $status: $(cat renew.p7)"
p7_to_pem renew.p7 renew.pem
[ "$(openssl x509 -in renew.pem -noout -serial)" != "$(openssl x509 -in dev.pem -noout -serial)" ] \
    || fail "renewal returned the old certificate"
[ "$(openssl x509 -in renew.pem -pubkey -noout)" = "$(openssl x509 -in dev.pem -pubkey -noout)" ] \
    || fail "same-key renewal changed the key"
openssl x509 -in renew.pem -noout -ext subjectAltName | grep_all 'DNS:dev.example, IP Address:10.0.0.7' \
    || fail "renewal lost the SAN"
ok "renewal with the same key: new certificate, same key and SAN (EST-S-50, EST-S-53)"

# Re-key: a new key with the same subject and SAN.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout new.key -subj /CN=dev \
    -addext "subjectAltName=IP:10.0.0.7,DNS:dev.example" -outform DER -out new.der 2>/dev/null
status=$(curl -s -o rekey.p7 -w '%{http_code}' --cacert "$TA" --cert renew.pem --key dev.key "${PK[@]}" \
    --data-binary @new.der "$MEST/simplereenroll")
[ "$status" = 200 ] || fail "re-key gave $status: $(cat rekey.p7)"
p7_to_pem rekey.p7 rekey.pem
[ "$(openssl x509 -in rekey.pem -pubkey -noout)" = "$(openssl pkey -in new.key -pubout)" ] \
    || fail "re-key certificate does not hold the new key"
ok "re-key with a new key, SAN order ignored (EST-S-51, EST-S-53)"

# Another subject, another SAN: refused.
openssl req -new -key new.key -subj /CN=other -outform DER -out other.der
expect_status 403 "reenroll with another subject (EST-S-51)" "$MEST/simplereenroll" \
    --cert rekey.pem --key new.key "${PK[@]}" --data-binary @other.der
openssl req -new -key new.key -subj /CN=dev -addext "subjectAltName=DNS:evil.example" -outform DER -out othersan.der
expect_status 403 "reenroll with another SAN (EST-S-51)" "$MEST/simplereenroll" \
    --cert rekey.pem --key new.key "${PK[@]}" --data-binary @othersan.der

# Revoked certificates cannot renew.
serial=$(openssl x509 -in rekey.pem -noout -serial | cut -d= -f2)
"$ESTADM" -c "$T/var/estd.conf" cert revoke "$serial" --reason keyCompromise >/dev/null
curl -s -o revoked.txt -w '%{http_code}' --cacert "$TA" --cert rekey.pem --key new.key "${PK[@]}" \
    --data-binary @new.der "$MEST/simplereenroll" > status.txt
[ "$(cat status.txt)" = 403 ] || fail "revoked certificate renewed: $(cat status.txt)"
grep -q 'revoked' revoked.txt || fail "403 does not say the certificate is revoked: $(cat revoked.txt)"
ok "revoked certificate cannot renew: $(cat revoked.txt)"

# An expired certificate of our own CA cannot renew, and the answer says why.
mkdir -p expca/newcerts && : > expca/index.txt && echo 01 > expca/serial
cat > expca/ca.cnf <<CNF
[ca]
default_ca = d
[d]
dir = $T/expca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF
openssl req -new -key dev.key -subj /CN=dev -out old.csr
openssl ca -batch -config expca/ca.cnf -cert "$T/var/ca.pem" -keyfile "$T/var/ca.key" \
    -startdate 20200101000000Z -enddate 20200102000000Z -in old.csr -out old.pem >/dev/null 2>&1 \
    || fail "cannot make an expired certificate"
curl -s -o expired.txt -w '%{http_code}' --cacert "$TA" --cert old.pem --key dev.key "${PK[@]}" \
    --data-binary @dev.b64 "$MEST/simplereenroll" > status.txt || true
[ "$(cat status.txt)" = 403 ] || fail "expired certificate: HTTP $(cat status.txt)"
grep -q 'expired' expired.txt || fail "403 does not say the certificate expired: $(cat expired.txt)"
ok "expired certificate cannot renew: $(cat expired.txt)"

# A keep-alive connection can outlive its certificate: validity is judged per request, not
# at the handshake. A certificate valid for a few seconds (not on record, so the first answer,
# given once its path checked out, says so), then expired, on one connection.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout short.key -subj /CN=short \
    -out short.csr 2>/dev/null
until_s=$(( $(date +%s) + 6 ))
openssl ca -batch -config expca/ca.cnf -cert "$T/var/ca.pem" -keyfile "$T/var/ca.key" \
    -startdate "$(date -u -d '-1 hour' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d "@$until_s" +%Y%m%d%H%M%SZ)" \
    -in short.csr -out short.pem >/dev/null 2>&1 || fail "cannot make a short-lived certificate"
post() {
	printf 'POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/pkcs10\r\nContent-Length: %d\r\n%b\r\n' \
	    "$(wc -c < dev.b64)" "$1"
	cat dev.b64
}
{ post ''; while [ "$(date +%s)" -le "$until_s" ]; do sleep 0.5; done; post 'Connection: close\r\n'; } |
    openssl s_client -connect "127.0.0.1:$MTLS_PORT" -cert short.pem -key short.key -CAfile "$TA" -quiet \
    > keepalive.out 2>/dev/null || true
[ "$(grep -c '^HTTP/1.1 403' keepalive.out)" = 2 ] && grep -q 'is not on record' keepalive.out &&
    grep -q 'not trusted: certificate has expired' keepalive.out ||
    fail "a certificate expiring on a keep-alive connection: $(cat keepalive.out)"
ok "a certificate that expires on a keep-alive connection is refused from then on"

# A certificate from another CA does not even complete the handshake on mutual TLS.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout self.key -subj /CN=dev \
    -days 1 -out self.pem 2>/dev/null
got=$(code "$MEST/simplereenroll" --cert self.pem --key self.key "${PK[@]}" --data-binary @new.der) || true
[ "$got" = 000 ] || [ "$got" = 403 ] || fail "self-signed client certificate got HTTP $got"
ok "untrusted client certificate refused (EST-S-20)"

# The mutual-TLS port requires a certificate at the handshake.
got=$(code "$MEST/cacerts") || true
[ "$got" = 000 ] || fail "mutual-TLS listener served a client without certificate: $got"
ok "require-client listener refuses a handshake without certificate"

# A client certificate authenticates /simpleenroll too (EST-S-25), no HTTP auth round trip,
# for its own subject and SAN only (issue 9: other names need an RA certificate). That is
# estd's policy for the extra certificates of EST-S-46.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout same.key -subj /CN=dev \
    -addext "subjectAltName=DNS:dev.example,IP:10.0.0.7" -outform DER 2>/dev/null | openssl base64 > same.b64
status=$(curl -s -o second.p7 -w '%{http_code}' --cacert "$TA" "${CERT[@]}" "${PK[@]}" \
    --data-binary @same.b64 "$MEST/simpleenroll")
[ "$status" = 200 ] || fail "simpleenroll with a client certificate gave $status"
ok "simpleenroll authenticated by a client certificate, its own names (EST-S-25, EST-S-46)"
mkcsr second
expect_status 403 "a client certificate asking for another subject (EST-S-46)" "$MEST/simpleenroll" \
    "${CERT[@]}" "${PK[@]}" --data-binary @second.b64
grep -q 'a client certificate may only request its own subject' estd.log || fail "log does not say why"

finish
