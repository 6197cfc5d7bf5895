#!/usr/bin/env bash
# estclient against estd: every estclient command line of both seeds, as
# written (host, port and file names from the test), followed by the openssl
# command the seed runs next on its output; then re-keying, names, and each
# exit status estd can provoke.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

init_demo
start_estd
cd "$T"
ln -s "$ESTCLIENT" ./estclient

# ---- seed 004: "Client Mode with Challenge Password Authentication" ----------
export EST_OPENSSL_CACERT=$T/var/ca.pem    # the seed's ManagementCA.cacert.pem
mkdir certs
ec -g -s 127.0.0.1 -p $TLS_PORT -o certs --pem-output
expect_rc 0 "seed 004: ./estclient -g -s 127.0.0.1 -p 8442 -o certs --pem-output"
openssl x509 -in certs/cacert-0-0.pem -text -noout > cacert.txt || fail "openssl x509 on cacert-0-0.pem"
[ "$(openssl x509 -in certs/cacert-0-0.pem -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in var/ca.pem -noout -fingerprint -sha256)" ] || fail "cacert-0-0.pem is not the CA"
ok "seed 004: openssl x509 -in certs/cacert-0-0.pem -text -noout"

cat > openssl.conf <<'CONF'
[ req ]
distinguished_name     = req_distinguished_name
attributes             = req_attributes
prompt                 = no

[ req_distinguished_name ]
commonName                     = 123456789

[ req_attributes ]
challengePassword              = password
CONF
openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -config openssl.conf 2>/dev/null
openssl req -in device.csr -text -noout >/dev/null
# The seed's pre-registration (EJBCA: ra addendentity), then its line verbatim:
# the enrolment code 'password' in the CSR's challengePassword authenticates.
"$ESTADM" -c var/estd.conf ee add --username 123456789 --dn "CN=123456789" --alias est \
    --password - <<< password >/dev/null
ec -e -s 127.0.0.1 -p $TLS_PORT -o certs --pem-output -y device.csr
expect_rc 0 "seed 004: ./estclient -e -s 127.0.0.1 -p 8442 -o certs --pem-output -y device.csr"
openssl x509 -in certs/cert-0-0.pem -text -noout | grep_all 'Subject: CN = 123456789' || fail "enrolled certificate"
ok "seed 004: openssl x509 -in certs/cert-0-0.pem -text -noout"
cp certs/cert-0-0.pem first.pem

# Re-enrol with the same key, over mutual TLS, -c being the file -r replaces.
ec -r -s 127.0.0.1 -p $MTLS_PORT -o certs -c certs/cert-0-0.pem -k device.key --pem-output
expect_rc 0 "seed 004: ./estclient -r -s 127.0.0.1 -p 8443 -o certs -c certs/cert-0-0.pem -k device.key --pem-output"
openssl x509 -in certs/cert-0-0.pem -text -noout > renewed.txt
grep -q 'Subject: CN = 123456789' renewed.txt || fail "renewed subject"
[ "$(openssl x509 -in certs/cert-0-0.pem -noout -serial)" != "$(openssl x509 -in first.pem -noout -serial)" ] \
    || fail "-r did not replace cert-0-0.pem"
[ "$(openssl x509 -in certs/cert-0-0.pem -noout -pubkey)" = "$(openssl pkey -in device.key -pubout)" ] \
    || fail "same-key renewal changed the key"
ok "seed 004: the renewed certificate, same subject and key (EST-S-53 renew)"

# Revoked: re-enrolment refused.
"$ESTADM" -c var/estd.conf cert revoke "$(openssl x509 -in certs/cert-0-0.pem -noout -serial | cut -d= -f2)" >/dev/null
ec -r -s 127.0.0.1 -p $MTLS_PORT -o certs -c certs/cert-0-0.pem -k device.key --pem-output
expect_rc 5 "seed 004: re-enrolment with a revoked certificate"
err_says "revoked"
# The server's reason is the advice; the generic one about ports would mislead here.
! grep -q "sent to a port" "$T/ec.err" || fail "a revoked certificate is told to try another port: $(cat "$T/ec.err")"

# The EC variant of the seed.
openssl ecparam -name prime256v1 -genkey -noout -out prime256v1-key.pem
openssl req -nodes -new -key prime256v1-key.pem -out device-ec.csr -config openssl.conf
"$ESTADM" -c var/estd.conf ee reset 123456789 --password - <<< password >/dev/null
ec -e -s 127.0.0.1 -p $TLS_PORT -o certs --pem-output -y device-ec.csr
expect_rc 0 "seed 004: ./estclient -e ... -y device-ec.csr"
openssl x509 -in certs/cert-0-0.pem -text -noout | grep_all 'id-ecPublicKey' || fail "EC certificate"
ec -r -s 127.0.0.1 -p $MTLS_PORT -o certs -c certs/cert-0-0.pem -k prime256v1-key.pem --pem-output
expect_rc 0 "seed 004: ./estclient -r ... -k prime256v1-key.pem --pem-output"
openssl x509 -in certs/cert-0-0.pem -text -noout >/dev/null

# ---- seed 000: the article's libest steps -------------------------------------
openssl req -new -sha256 -newkey rsa:2048 -keyout privatekey.pem -keyform PEM -out csr.p10 -passout pass:x \
    -subj "/C=US/ST=Colorado/L=Aspen/O=ACME, Inc./OU=Mfg/CN=mfgserver1.acme.org/emailAddress=jdoe@acme.org" 2>/dev/null
ec -e -s 127.0.0.1 -p $TLS_PORT \
    -o . -y csr.p10 -u estuser -h estpwd
expect_rc 0 "seed 000: estclient -e -s HOST -p PORT -o . -y csr.p10 -u estuser -h estpwd"
openssl base64 -d -in ./cert-0-0.pkcs7 | \
    openssl pkcs7 -inform DER  -print_certs -out cert.pem
openssl x509 -text -in cert.pem | grep_all 'CN = mfgserver1.acme.org' || fail "seed 000 certificate"
[ "$(openssl x509 -in cert.pem -pubkey -noout)" = "$(openssl req -in csr.p10 -pubkey -noout)" ] || fail "wrong key"
ok "seed 000: openssl base64 -d -in ./cert-0-0.pkcs7 | openssl pkcs7 -inform DER -print_certs"
# The 401 challenge was answered on the connection it came on.
port=$(grep 'op=simpleenroll principal=- status=401' estd.log | tail -1 | sed 's/.*peer=127.0.0.1:\([0-9]*\).*/\1/')
grep "peer=127.0.0.1:$port .*principal=user:estuser status=200" estd.log | grep_all simpleenroll \
    || fail "the credentials did not follow the challenge on the same connection"
ok "HTTP Digest answered on the connection of the 401 (one handshake)"
# One 401, one answer: estd offers Digest and Basic; estclient answers with Digest alone,
# so libcurl does not ask again (two POSTs, as libest's client makes), and a wrong password
# goes out once (one failure counted against the lock-out, docs/configuration.md).
# enrol_posts PASSWORD: the simpleenroll lines estd logs for one enrolment, in $T/posts.
enrol_posts() {
	local n
	n=$(wc -l < estd.log)
	ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y csr.p10 -u estuser -h "$1"
	tail -n +$((n + 1)) estd.log | grep 'op=simpleenroll' > posts || true
}
enrol_posts estpwd
expect_rc 0 "-u -h, Digest and Basic offered"
[ "$(grep -c . posts)" = 2 ] || fail "not two POSTs: $(cat posts)"
sed -n 1p posts | grep_all 'principal=- status=401 .*auth=none' || fail "the first POST: $(sed -n 1p posts)"
sed -n 2p posts | grep_all 'principal=user:estuser status=200 .*auth=digest' || fail "the answer: $(sed -n 2p posts)"
ok "one 401 without credentials, then the Digest answer: two POSTs"
enrol_posts wrong
expect_rc 5 "a wrong password"
[ "$(grep -c . posts)" = 2 ] && [ "$(grep -c 'digest response mismatch' posts)" = 1 ] \
    || fail "a wrong password: not one 401 and one refused answer: $(cat posts)"
ok "a wrong password is sent once: one 401 asking, one refusing"
ec -g -s 127.0.0.1 -p $TLS_PORT -o .
expect_rc 0 "estclient -g without --pem-output"
openssl base64 -d -in cacert-0-0.pkcs7 | openssl pkcs7 -inform DER -print_certs -out cacerts.pem
openssl verify -CAfile cacerts.pem cert.pem >/dev/null || fail "cacert-0-0.pkcs7 does not verify the certificate"
ok "cacert-0-0.pkcs7 decodes with openssl base64 -d and holds the CA"

# ---- beyond libest --------------------------------------------------------------
# -e without a key: EC P-256, 0600, --common-name; -z binds it (same connection).
mkdir gen
ec -e -z -v -s 127.0.0.1 -p $TLS_PORT -o gen -u estuser -h estpwd --common-name dev1 --pem-output
expect_rc 0 "estclient -e -z --common-name, no key given"
openssl pkey -in gen/key-x-x.pem -noout -text | grep_all 'NIST CURVE: P-256' || fail "generated key is not P-256"
[ "$(stat -c %a gen/key-x-x.pem)" = 600 ] || fail "generated key is not mode 0600"
[ "$(openssl x509 -in gen/cert-0-0.pem -noout -pubkey)" = "$(openssl pkey -in gen/key-x-x.pem -pubout)" ] || fail "key/cert"
openssl x509 -in gen/cert-0-0.pem -noout -subject | grep_all 'CN = dev1' || fail "--common-name"
grep -q 'POST /simpleenroll: HTTP 200.* 0 new connection' "$T/ec.err" || fail "the POST did not reuse the connection: $(cat "$T/ec.err")"
grep -q 'channel binding: tls-exporter, TLS 1.3' "$T/ec.err" || fail "TLS 1.3 binding not used: $(cat "$T/ec.err")"
ok "generated key: EC P-256, 0600; -z on TLS 1.3 (tls-exporter, EST-C-43), CSR posted on the probed connection"
# -o DIR is made when missing (the EJBCA guide's outputDirName): 0700 with a key in it.
ec -e -s 127.0.0.1 -p $TLS_PORT -o new/keys -u estuser -h estpwd --common-name dev2
expect_rc 0 "-e -o new/keys (missing)"
[ "$(stat -c %a new)" = 700 ] && [ "$(stat -c %a new/keys)" = 700 ] || fail "-o made without mode 0700"
[ -s new/keys/key-x-x.pem ] && [ -s new/keys/cert-0-0.pkcs7 ] || fail "nothing written to the new -o"
umask 022
ec -g -s 127.0.0.1 -p $TLS_PORT -o new/ca
expect_rc 0 "-g -o new/ca (missing)"
[ "$(stat -c %a new/ca)" = 755 ] || fail "-g -o made $(stat -c %a new/ca)"
[ -s new/ca/cacert-0-0.pkcs7 ] || fail "-g wrote nothing to the new -o"
ok "-o DIR created when missing: 0700 when a key goes there, else 0755"
# A file estclient replaces as root keeps its owner (a service's directory).
if [ "$(id -u)" = 0 ]; then
	chown nobody: new/ca/cacert-0-0.pkcs7
	ec -g -s 127.0.0.1 -p $TLS_PORT -o new/ca
	expect_rc 0 "-g -o new/ca again"
	[ "$(stat -c %U new/ca/cacert-0-0.pkcs7)" = nobody ] \
	    || fail "cacert-0-0.pkcs7 did not keep its owner: $(stat -c %U new/ca/cacert-0-0.pkcs7)"
	ok "a file estclient replaces keeps its owner"
fi
ec -e -s 127.0.0.1 -p $TLS_PORT -o gen -u estuser -h estpwd --key-type rsa:2048 -i 2
expect_rc 0 "estclient -e --key-type rsa:2048 -i 2"
openssl x509 -in gen/cert-0-1.pkcs7 -noout 2>/dev/null && fail "pkcs7 file is PEM"
for i in 0 1; do
	b64d < gen/cert-0-$i.pkcs7 | openssl pkcs7 -inform DER -print_certs | openssl x509 -noout -text | grep_all 'rsaEncryption' \
	    || fail "cert-0-$i.pkcs7"
done
ok "-i 2 writes cert-0-0 and cert-0-1"

# Re-key with -x NEWKEY: the certificate's subject and SAN are kept (EST-C-55).
mkcsr san -addext "subjectAltName=DNS:dev.example,IP:10.0.0.7"
ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y san.csr -u estuser -h estpwd --pem-output
expect_rc 0 "enrol a certificate with a SAN"
cp cert-0-0.pem san.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out new.key
ec -r -s 127.0.0.1 -p $MTLS_PORT -o . -c san.pem -k san.key -x new.key --pem-output
expect_rc 0 "estclient -r -x NEWKEY (re-key)"
[ "$(openssl x509 -in cert-0-0.pem -noout -pubkey)" = "$(openssl pkey -in new.key -pubout)" ] || fail "re-key kept the old key"
[ "$(openssl x509 -in cert-0-0.pem -noout -subject)" = "$(openssl x509 -in san.pem -noout -subject)" ] || fail "subject changed"
openssl x509 -in cert-0-0.pem -noout -ext subjectAltName | grep_all 'DNS:dev.example, IP Address:10.0.0.7' || fail "SAN lost"
ok "-r -x NEWKEY re-keys and keeps subject and SAN (EST-S-53 rekey, EST-C-55)"
cp cert-0-0.pem rekeyed.pem
openssl req -new -key san.key -subj /CN=san -addext "subjectAltName=DNS:dev.example,IP:10.0.0.7" -out back.csr
ec -r -s 127.0.0.1 -p $MTLS_PORT -o . -c rekeyed.pem -k new.key -y back.csr --pem-output
expect_rc 0 "estclient -r -y NEWCSR"
[ "$(openssl x509 -in cert-0-0.pem -noout -pubkey)" = "$(openssl pkey -in san.key -pubout)" ] || fail "-r -y did not send the CSR"

# Server URL forms and labels (EST-C-01).
ec -g --server https://127.0.0.1:$TLS_PORT/.well-known/est/est -o .
expect_rc 0 "--server https://HOST:PORT/.well-known/est/est"
ec -g -s 127.0.0.1 -p $TLS_PORT --path-seg est -o .
expect_rc 0 "--path-seg est"
ec -g -s 127.0.0.1 -p $TLS_PORT --path-seg nosuch -o .
expect_rc 6 "--path-seg of an unknown label: 404"
ec -g --cacerts -s localhost -p $TLS_PORT -o .
expect_rc 0 "-s localhost (in the server's subjectAltName)"

# ---- exit statuses ------------------------------------------------------------------
ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y csr.p10 -u estuser -h wrong
expect_rc 5 "wrong password"
err_says "401"
ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y csr.p10
expect_rc 5 "no credentials"
err_says "-u USER -h PASSWORD"
openssl req -new -newkey rsa:1024 -nodes -keyout weak.key -subj /CN=weak -out weak.csr 2>/dev/null
ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y weak.csr -u estuser -h estpwd
expect_rc 6 "a CSR the server refuses (HTTP 400)"
err_says "400"
ec -g -s 127.0.0.1 -p $MTLS_PORT -o .
expect_rc 4 "mutual-TLS port without a client certificate"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem \
    -subj /CN=other -days 1 2>/dev/null
EST_OPENSSL_CACERT=other.pem ec -e -s 127.0.0.1 -p $TLS_PORT -o . -y csr.p10 -u estuser -h estpwd
expect_rc 4 "untrusted server (another trust anchor)"
err_says "not trusted"
ec -g --trustanchor other.pem -s 127.0.0.1 -p $TLS_PORT -o .
expect_rc 4 "--trustanchor overrides EST_OPENSSL_CACERT"
ec -g --trustanchor system -s 127.0.0.1 -p $TLS_PORT -o .
expect_rc 4 "--trustanchor system: the demo CA is not in the system's store"
ec -g -s 127.0.0.1 -p "$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')" -o .
expect_rc 3 "nothing listens on the port"
(unset EST_OPENSSL_CACERT; ec -g -s 127.0.0.1 -p $TLS_PORT -o .; expect_rc 2 "no trust anchor")
ec -s 127.0.0.1 -p $TLS_PORT -o .
expect_rc 2 "no operation"
ec -e -r -s 127.0.0.1 -o .
expect_rc 2 "-e with -r"
ec -e -s 127.0.0.1 -o . -u estuser
expect_rc 2 "-u without -h"
ec -e -s 127.0.0.1 -o . -x new.key -y csr.p10
expect_rc 2 "-x with -y"
touch afile
ec -g -s 127.0.0.1 -o afile
expect_rc 1 "-o of a file that is not a directory"
err_says "afile: not a directory"
ec --bogus
expect_rc 2 "unknown option"
"$ESTCLIENT" --help | grep_all 'Exit status: 0 success' || fail "--help"
ok "--help lists the exit statuses"

# ---- the server's name (RFC 6125): a TLS certificate for est.example only -------------
# ---- seed 004: server-side key generation against estd ---------------------------
# The seed's CSR for /serverkeygen carries no enrolment code: the end entity
# is registered without one (EJBCA's "null" password); the line runs as written.
"$ESTADM" -c var/estd.conf ee add --username registered_client --dn "CN=registered_client" \
    --alias est --no-password >/dev/null
openssl req -nodes -newkey rsa:2048 -keyout sk.key -out sk.csr -outform DER -subj "/CN=registered_client" 2>/dev/null
mkdir -p skdir
ec -q -s 127.0.0.1 -p $TLS_PORT -o skdir --pem-output --common-name registered_client -x sk.key -v
expect_rc 0 "seed 004 against estd: estclient -q --common-name registered_client -x device.key --pem-output"
[ "$(openssl rsa -in skdir/key-0-0.key -noout -modulus)" = "$(openssl x509 -in skdir/cert-0-0.pem -noout -modulus)" ] \
    || fail "key-0-0.key does not match cert-0-0.pem"
[ "$(openssl rsa -in skdir/key-0-0.key -noout -modulus)" != "$(openssl rsa -in sk.key -noout -modulus)" ] \
    || fail "the key is the request's, not the server's"
ok "estd's /serverkeygen: estclient writes the server's key and its certificate (EST-S-63, EST-S-64)"
ec -q -s 127.0.0.1 -p $MTLS_PORT -o skdir --pem-output --common-name registered_client -x sk.key -v \
    -c skdir/cert-0-0.pem -k skdir/key-0-0.key
expect_rc 0 "seed 004 against estd: estclient -q over mutual TLS with the generated key and certificate"
ec -a -s 127.0.0.1 -p $TLS_PORT -o skdir
expect_rc 0 "estclient -a against estd's /csrattrs"
[ -s skdir/csr-0-0.base64 ] || fail "csr-0-0.base64 is empty"
tr -d '\r\n' < skdir/csr-0-0.base64 | openssl base64 -d -A | openssl asn1parse -inform DER | grep_all 'prime256v1' \
    || fail "csrattrs from estd not written"
ok "estclient -a writes estd's CSR attributes (csr-0-0.base64)"

# Encrypted server-generated key (RFC 7030 §4.4.2): asked for with the TLS
# client certificate as key-encipherment certificate, decrypted by estclient.
# The certificate authenticates too, so it asks for its own name (issue 9).
openssl req -new -newkey rsa:2048 -nodes -keyout kecert.key -subj /CN=kecert -out kecert.csr 2>/dev/null
curl -s --cacert var/ca.pem --basic -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
    --data-binary @kecert.csr "https://127.0.0.1:$TLS_PORT/.well-known/est/simpleenroll" | b64d \
    | openssl pkcs7 -inform DER -print_certs -out kecert.pem
mkdir -p sealed
ec -q -s 127.0.0.1 -p $MTLS_PORT -o sealed -c kecert.pem -k kecert.key --decrypt-cert kecert.pem \
    --decrypt-key kecert.key --common-name kecert --pem-output
expect_rc 0 "estclient -q --decrypt-cert/--decrypt-key against estd"
[ "$(openssl pkey -in sealed/key-0-0.key -pubout)" = "$(openssl x509 -in sealed/cert-0-0.pem -pubkey -noout)" ] \
    || fail "the decrypted key does not match the certificate"
ok "estd's encrypted key decrypted by estclient matches its certificate"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out otherke.key 2>/dev/null
mkdir -p sealed2
ec -q -s 127.0.0.1 -p $MTLS_PORT -o sealed2 -c kecert.pem -k kecert.key --decrypt-cert kecert.pem \
    --decrypt-key otherke.key --common-name kecert --pem-output
[ "$RC" != 0 ] || fail "a wrong decryption key opened the key: it was not encrypted"
ok "with another decryption key the key cannot be opened (it was sent encrypted)"

check_estd_exit
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout var/named.key -subj /CN=est.example \
    -out named.csr 2>/dev/null
printf 'subjectAltName=DNS:est.example\nextendedKeyUsage=serverAuth\n' > named.ext
openssl x509 -req -in named.csr -CA var/ca.pem -CAkey var/ca.key -CAcreateserial -days 2 -extfile named.ext \
    -out var/named.pem 2>/dev/null
sed 's/^certificate = tls.pem/certificate = named.pem/; s/^key = tls.key/key = named.key/' var/estd.conf > var/named.conf
start_estd var/named.conf
ec -g -s 127.0.0.1 -p $TLS_PORT -o .
expect_rc 4 "the server's certificate does not name 127.0.0.1 (EST-C-24)"
err_says "not issued for"
ec -e -s localhost -p $TLS_PORT -o . -y csr.p10 -u estuser -h estpwd
expect_rc 4 "nor localhost; no credentials sent"
grep -q 'op=simpleenroll' <(tail -n 3 estd.log) && fail "a request reached estd through a wrong name"
ec -e -s est.example -p $TLS_PORT --resolve est.example:$TLS_PORT:127.0.0.1 -o . -y csr.p10 -u estuser -h estpwd
expect_rc 0 "the name in the certificate (est.example via --resolve)"

finish
