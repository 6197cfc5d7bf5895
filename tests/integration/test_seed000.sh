#!/usr/bin/env bash
# Seed 000 ("Provisioning X.509 Certificates Using RFC 7030"), every curl and
# openssl step as the article writes it, against our own estd; then the
# article's last step (two enrolled hosts authenticate each other over TLS,
# trusting only the /cacerts answer) without the OpenVPN tunnel.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
cp "$TA" ./DST_Root_CA_X3.pem    # the article's implicit trust anchor, out of band
HOST=127.0.0.1:$TLS_PORT

# Step 2: /cacerts with curl (EST-S-10, EST-S-12: no client authentication).
curl -sf https://$HOST/.well-known/est/cacerts \
    -o cacerts.p7 --cacert ./DST_Root_CA_X3.pem || fail "curl /cacerts"
ok "step 2: curl /cacerts"

# Step 3: convert the trust anchor to PEM exactly as written.
openssl base64 -d -in cacerts.p7 | \
   openssl pkcs7 -inform DER -outform PEM \
   -print_certs -out cacerts.pem
[ "$(openssl x509 -in cacerts.pem -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in "$TA" -noout -fingerprint -sha256)" ] || fail "cacerts.pem is not the CA"
# EST-S-13: the root is self-signed and in the answer.
openssl verify -CAfile cacerts.pem cacerts.pem >/dev/null || fail "root in /cacerts does not self-verify"
ok "step 3: openssl base64 -d | openssl pkcs7 -print_certs gives the root CA (EST-S-13)"

# EST-S-11 / ASN-05: certs-only structure, empty signerInfos.
b64d < cacerts.p7 | openssl asn1parse -inform DER > asn1.txt
grep -q 'pkcs7-signedData' asn1.txt && grep -q 'pkcs7-data' asn1.txt || fail "not a certs-only SignedData"
ok "cacerts body is a certs-only SignedData (EST-S-11)"

# Step 4: key and CSR; the article's interactive answers given with -subj.
openssl req -new -sha256 -newkey rsa:2048 \
    -keyout privatekey.pem -keyform PEM -out csr.p10 -passout pass:article \
    -subj "/C=US/ST=Colorado/L=Aspen/O=ACME, Inc./OU=Mfg/CN=mfgserver1.acme.org/emailAddress=jdoe@acme.org" \
    2>/dev/null || fail "openssl req"
ok "step 4: openssl req makes key and CSR"

# Step 5: enrol with curl --anyauth (curl picks Digest from our challenges).
status=$(curl -s -w '%{http_code}' https://$HOST/.well-known/est/simpleenroll \
    --anyauth -u estuser:estpwd -o cert.p7 \
    --cacert ./DST_Root_CA_X3.pem --data-binary @csr.p10 \
    -H "Content-Type: application/pkcs10")
[ "$status" = 200 ] || fail "step 5: simpleenroll with --anyauth gave $status: $(cat cert.p7)"
ok "step 5: curl --anyauth -u estuser:estpwd /simpleenroll (EST-S-40)"

# Step 6: convert the certificate to PEM exactly as written.
openssl base64 -d -in cert.p7 | openssl pkcs7 -inform DER \
    -outform PEM -print_certs -out cert.pem
[ "$(grep -c 'BEGIN CERTIFICATE' cert.pem)" = 1 ] || fail "response must hold only the new certificate (EST-S-41)"
ok "step 6: response holds exactly one certificate (EST-S-41)"

# Step 7: inspect it: subject from the CSR, key from the CSR, issued by the CA.
openssl x509 -text -in cert.pem > cert.txt
grep -q 'Subject: C = US, ST = Colorado, L = Aspen, O = "ACME, Inc.", OU = Mfg, CN = mfgserver1.acme.org, emailAddress = jdoe@acme.org' cert.txt \
    || fail "subject differs: $(grep Subject: cert.txt)"
grep -q 'CA:FALSE' cert.txt || fail "basicConstraints CA:FALSE missing"
grep -q 'TLS Web Client Authentication' cert.txt && grep -q 'TLS Web Server Authentication' cert.txt \
    || fail "EKU clientAuth+serverAuth missing"
grep -q 'Digital Signature, Key Encipherment' cert.txt || fail "RSA keyUsage wrong"
grep -q 'X509v3 Subject Key Identifier' cert.txt && grep -q 'X509v3 Authority Key Identifier' cert.txt \
    || fail "SKI/AKI missing"
[ "$(openssl x509 -in cert.pem -pubkey -noout)" = "$(openssl req -in csr.p10 -pubkey -noout)" ] \
    || fail "certificate key is not the CSR's"
openssl verify -CAfile cacerts.pem cert.pem >/dev/null || fail "certificate does not chain to /cacerts"
ok "step 7: certificate has the CSR's subject and key, profile extensions, chains to /cacerts"

# An issued certificate is on record (estadm reads the same store).
serial=$(openssl x509 -in cert.pem -noout -serial | cut -d= -f2)
"$ESTADM" -c "$T/var/estd.conf" cert list | grep_all "^$serial .*valid" || fail "certificate $serial not in the store"
ok "the issued certificate is in the store"

# The libest-style flow the article also shows, by hand with Digest and Basic forced.
for scheme in --digest --basic; do
	status=$(curl -s -o c.p7 -w '%{http_code}' $scheme -u estuser:estpwd --cacert ./DST_Root_CA_X3.pem \
	    --data-binary @csr.p10 -H "Content-Type: application/pkcs10" https://$HOST/.well-known/est/simpleenroll)
	[ "$status" = 200 ] || fail "simpleenroll with $scheme gave $status"
	ok "simpleenroll with curl $scheme"
done

# Seed 000's last part: two enrolled hosts, mutual TLS, trusting only /cacerts.
for host in vpnserver vpnclient; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $host.key \
	    -subj "/CN=$host.acme.org" -out $host.csr 2>/dev/null
	status=$(curl -s -o $host.p7 -w '%{http_code}' --anyauth -u estuser:estpwd --cacert cacerts.pem \
	    --data-binary @$host.csr -H "Content-Type: application/pkcs10" https://$HOST/.well-known/est/simpleenroll)
	[ "$status" = 200 ] || fail "enrol $host gave $status"
	openssl base64 -d -in $host.p7 | openssl pkcs7 -inform DER -print_certs -out $host.pem
done
# s_server requires and verifies the client certificate (-Verify 1 -verify_return_error);
# on TLS 1.2 a refused client certificate fails the handshake that s_client sees.
handshake() { # CERT KEY -> 0 when both sides accepted each other
	local spid port=
	# -www: s_server answers one HTTP request and does not read its own stdin.
	openssl s_server -accept 127.0.0.1:0 -cert vpnserver.pem -key vpnserver.key -CAfile cacerts.pem \
	    -Verify 1 -verify_return_error -naccept 1 -www > s_server.log 2>&1 &
	spid=$!
	for _ in $(seq 50); do
		port=$(sed -n 's/^ACCEPT 127.0.0.1:\([0-9]*\)$/\1/p' s_server.log)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || fail "openssl s_server did not start"
	# s_client's exit status reflects the server's close without close_notify; read its report.
	printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$port -tls1_2 -cert "$1" \
	    -key "$2" -CAfile cacerts.pem -verify_return_error -ign_eof > s_client.log 2>&1 || true
	kill $spid 2>/dev/null; wait $spid 2>/dev/null
	grep -q 'Verify return code: 0 (ok)' s_client.log && grep -q 'Cipher is ECDHE' s_client.log &&
	    ! grep -q 'alert' s_client.log && grep -q "Client certificate" s_client.log
}
handshake vpnclient.pem vpnclient.key || fail "mutual TLS between enrolled hosts failed: $(grep -E "alert|Cipher|Verify|error" s_client.log) / $(cat s_server.log)"
ok "two EST-enrolled hosts complete a mutual TLS handshake trusting only /cacerts"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout stranger.key \
    -subj /CN=stranger -days 1 -out stranger.pem 2>/dev/null
if handshake stranger.pem stranger.key; then
	fail "a host without an EST certificate was accepted"
fi
ok "a host without an EST-issued certificate is refused"

finish
