#!/usr/bin/env bash
# The seed document's port layouts (docs/examples/): 3 ports, 2 ports, and
# one port with optional client authentication. Each loads and checks with
# `estd -n` on the key material `estadm init` makes; the single port then
# serves a first enrolment, a renewal and a vendor enrolment by itself.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
for layout in 3-port 2-port 1-port; do
	# The demo's store (the examples' sqlite:estkit.db, or PostgreSQL under make check-postgresql).
	sed -E -e 's/^(listen = 127\.0\.0\.1):[0-9]+$/\1:0/' -e "s|^store = .*|$(grep '^store = ' var/estd.conf)|" \
	    "$ESTKIT_SRC/docs/examples/$layout.conf" > var/$layout.conf
	"$ESTD" -n -c var/$layout.conf >check.txt 2>&1 || fail "$layout.conf does not load: $(cat check.txt)"
	ok "docs/examples/$layout.conf loads and checks"
done

start_estd var/1-port.conf
PORT=$(awk '$1=="https"{print $2}' ready)
URL="https://127.0.0.1:$PORT/.well-known/est"
PK=(-H 'Content-Type: application/pkcs10')
ADM=("$ESTADM" -c var/1-port.conf)
"${ADM[@]}" ee add --username one --dn "CN=one" --alias est --password - <<< onecode >/dev/null
"${ADM[@]}" ee add --username 1234.primekey.com --dn "CN=1234.primekey.com,O=PrimeKey,C=SE" \
    --alias estvendor --password - <<< x >/dev/null

# Client certificates (EST-G-05): the handshake asks for one (CertificateRequest, naming the
# CAs it accepts), and a client that has none declines and still enrols below.
echo | openssl s_client -connect 127.0.0.1:$PORT -tls1_2 -CAfile "$TA" 2>/dev/null > sclient.txt || true
grep_all -A3 '^Acceptable client certificate CA names' sclient.txt || fail "no CertificateRequest (EST-G-05)"
ca_cn=$(openssl x509 -in "$TA" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p')
sed -n '/^Acceptable client certificate CA names/,/^Client Certificate Types/p' sclient.txt \
    | grep_all -F "CN = $ca_cn" || fail "the CertificateRequest does not name the CA \"$ca_cn\""
echo | openssl s_client -connect 127.0.0.1:$PORT -tls1_3 -CAfile "$TA" 2>/dev/null \
    | grep_all '^Acceptable client certificate CA names' || fail "no CertificateRequest on TLS 1.3 (EST-G-05)"
ok "the single port asks for a client certificate, naming its CAs (EST-G-05)"

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout one.key \
    -config <(printf '[req]\nprompt=no\ndistinguished_name=dn\nattributes=a\n[dn]\nCN=one\n[a]\nchallengePassword=onecode\n') \
    -outform DER -out one.der 2>/dev/null
status=$(curl -s -o one.p7 -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data-binary @one.der "$URL/simpleenroll")
[ "$status" = 200 ] || fail "enrolment without a client certificate on the single port gave $status (EST-G-05)"
p7_to_pem one.p7 one.pem
status=$(curl -s -o renew.p7 -w '%{http_code}' --cacert "$TA" --cert one.pem --key one.key "${PK[@]}" \
    --data-binary @one.der "$URL/simplereenroll")
[ "$status" = 200 ] || fail "renewal with a client certificate on the single port gave $status"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout v.key \
    -subj "/CN=1234.primekey.com/O=PrimeKey/C=SE" -outform DER -out v.der 2>/dev/null
status=$(curl -s -o v.p7 -w '%{http_code}' --cacert "$TA" --cert "$ESTKIT_SRC/tests/fixtures/vendor/vendor-cert.pem" \
    --key "$ESTKIT_SRC/tests/fixtures/vendor/vendor-key.pem" "${PK[@]}" --data-binary @v.der "$URL/estvendor/simpleenroll")
[ "$status" = 200 ] || fail "vendor enrolment on the single port gave $status"
expect_status 200 "cacerts on the single port" "$URL/cacerts"
ok "one port with optional client authentication: enrol, renew and vendor mode"
finish
