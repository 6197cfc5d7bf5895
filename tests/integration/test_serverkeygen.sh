#!/usr/bin/env bash
# /serverkeygen (RFC 7030 §4.4, est-conformance.md §9): seed 004's curl steps
# and its parse_server_keygen_response script run verbatim (the script is
# taken from the seed document itself), RSA and EC keys, both encrypted forms
# decrypted with `openssl cms`, the refusals, and the generated key never
# reaching the store or the log.
. "$(dirname "$0")/lib.sh"

MKCSR="$ESTKIT_BIN/tests/mkcsr_keygen"

init_demo
cd "$T"
KEKID=0a1b2c3d
KEK=$(openssl rand -hex 32)
printf '# principal key-id key\nuser:estuser %s %s\n' "$KEKID" "$KEK" > var/keks
chmod 600 var/keks
sed -i 's/^\[server\]$/[server]\ndecrypt-keys = keks/' var/estd.conf
cat >> var/estd.conf <<'EOF'
[alias nokeygen]
[alias p384]
server-keygen = yes
server-keygen-key = ec:P-384
[alias fromcsr]
server-keygen = yes
server-keygen-key = from-csr
[alias rsadefault]
server-keygen = yes
[alias fromcsrec]
server-keygen = yes
server-keygen-key = From-CSR
key-types = ec:P-256
EOF
start_estd
cp "$TA" ManagementCA.cacert.pem
AUTH=(--anyauth -u estuser:estpwd)

# part FILE N: the base64 body of body part N; part_type FILE N: its Content-Type.
part() {
	awk -v n="$2" '/^--CONTENTBOUNDARY/ { k++; body = 0; next }
		k == n && !body && /^\r?$/ { body = 1; next }
		k == n && body { print }' "$1" | tr -d '\r'
}
part_type() {
	awk -v n="$2" '/^--CONTENTBOUNDARY/ { k++; next }
		k == n && tolower($0) ~ /^content-type:/ { sub(/\r$/, ""); sub(/^[^:]*: */, ""); print; exit }' "$1"
}
# keygen CSRFILE OUT [curl args...]: POST to /serverkeygen of the default alias; prints the status.
keygen() {
	local csr=$1 out=$2; shift 2
	curl -s -o "$out" -w '%{http_code}' --cacert "$TA" -H "Content-Type: application/pkcs10" \
	    --data-binary @"$csr" "$@"
}

# ---- seed 004, "Client mode serverkeygen", with curl ----------------------
# "Administrator must also register the client or end entity": its CSR
# carries no enrolment code, so it is registered without one (EJBCA's
# "null" password); the seed's curl line then runs as written.
"$ESTADM" -c var/estd.conf ee add --username registered_client --dn "CN=registered_client" \
    --alias est --no-password >/dev/null
openssl req -nodes -newkey rsa:2048 -keyout device.key -out device.csr -outform DER -subj "/CN=registered_client" 2>/dev/null
openssl base64 -in device.csr -out device.b64 -e
openssl req -nodes -newkey rsa:2048 -keyout other.key -out other.csr -outform DER -subj "/CN=not_registered" 2>/dev/null
[ "$(keygen other.csr other.out "$EST/serverkeygen")" = 401 ] || fail "an unregistered name got a key"
ok "a CSR naming no registered end entity, without credentials: 401"
status=$(curl -s -w '%{http_code}' -D headers.txt --cacert ManagementCA.cacert.pem --data @device.b64 -o device-keypair -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" https://127.0.0.1:$TLS_PORT/.well-known/est/est/serverkeygen)
[ "$status" = 200 ] || fail "seed serverkeygen gave $status: $(cat device-keypair)"
grep -qi '^Content-Type: multipart/mixed; boundary=CONTENTBOUNDARY' headers.txt || fail "not multipart/mixed (EST-G-09): $(cat headers.txt)"
ok "seed 004: curl /.well-known/est/est/serverkeygen gives 200 multipart/mixed (EST-S-63)"

# EST-S-63/-69/-70: exactly two parts, key first, exact media types, CRLF, closing delimiter.
python3 - headers.txt device-keypair <<'EOF' || fail "multipart does not parse as RFC 2046"
import email, sys
# The last header block, without its status line.
head = open(sys.argv[1], 'rb').read().strip().split(b'\r\n\r\n')[-1].split(b'\r\n', 1)[1]
raw = head + b'\r\n\r\n' + open(sys.argv[2], 'rb').read()
m = email.message_from_bytes(raw)
types = [p.get('Content-Type') for p in m.get_payload()]
assert types == ['application/pkcs8', 'application/pkcs7-mime; smime-type=certs-only'], types
EOF
[ "$(grep -c -- '--CONTENTBOUNDARY' device-keypair)" = 3 ] && grep -q -- '^--CONTENTBOUNDARY--' device-keypair \
    || fail "delimiters wrong"
[ "$(grep -vc $'\r$' device-keypair)" = 0 ] || fail "a line does not end in CRLF"
ok "two parts, application/pkcs8 then certs-only, CRLF, closing delimiter (EST-S-69, EST-S-70, EST-G-09)"

# The seed's script, exactly as printed there. The seed lives outside the
# repository (../shared, as in CI); on a plain clone this part is skipped
# and the same files are cut out of the response here instead.
if SEED=$(shared_doc seeds/004_35a03f48eaeb8a78.txt); then
	awk '/^#!\/bin\/bash$/ { on = 1 } on { print } on && /^echo "-----END CERTIFICATE-----" >> device-p7.b64$/ { exit }' \
	    "$SEED" > parse_server_keygen_response
	[ "$(wc -l < parse_server_keygen_response)" -ge 15 ] || fail "could not take the script from the seed"
	chmod +x parse_server_keygen_response
	./parse_server_keygen_response device-keypair
	openssl base64 -in device-p7.b64 -out device-p7.der -d
	SCRIPT="seed's parse_server_keygen_response"
else
	skip_part "seed 004 not found at $SEED (set ESTKIT_SHARED): its parse_server_keygen_response not run"
	part device-keypair 1 | b64d | openssl pkey -inform DER -out enrolled-key.key
	part device-keypair 2 | b64d > device-p7.der
	SCRIPT="the response's parts"
fi
openssl pkcs7 -inform DER -in device-p7.der -print_certs -out device-cert.pem
openssl x509 -in device-cert.pem -noout -text > cert.txt
grep -q 'Subject: CN = registered_client' cert.txt || fail "subject is not the CSR's"
openssl rsa -in enrolled-key.key -check -noout > rsa.txt 2>&1 && grep -q 'RSA key ok' rsa.txt \
    || fail "openssl rsa refuses the script's enrolled-key.key: $(cat rsa.txt)"
[ "$(openssl x509 -in device-cert.pem -noout -pubkey)" = "$(openssl pkey -in enrolled-key.key -pubout)" ] \
    || fail "the key does not match the certificate"
[ "$(openssl x509 -in device-cert.pem -noout -pubkey)" != "$(openssl pkey -inform DER -in device.csr -pubin -pubout 2>/dev/null || openssl req -inform DER -in device.csr -noout -pubkey)" ] \
    || fail "the certificate has the CSR's key (EST-S-61: it must be a new one)"
grep -q 'Public-Key: (2048 bit)' cert.txt || fail "the demo did not make an RSA 2048 key"
openssl verify -CAfile "$TA" device-cert.pem > /dev/null || fail "certificate does not chain to the CA"
ok "$SCRIPT: openssl rsa accepts the key, base64 -d + pkcs7 give the cert, key matches"

# Seed: "reenroll or subsequent key generation port 8443 ... with curl".
status=$(curl -s -w '%{http_code}' --cacert ManagementCA.cacert.pem --cert device-cert.pem --key enrolled-key.key --data @device.b64 -o device-keypair2 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" https://127.0.0.1:$MTLS_PORT/.well-known/est/est/serverkeygen)
[ "$status" = 200 ] || fail "serverkeygen over mutual TLS with the generated key gave $status: $(cat device-keypair2)"
ok "seed: curl --cert device-cert.pem --key enrolled-key.key to serverkeygen on the mutual-TLS port"
# Done again and again, as a device re-keying does, it is no guessing: the
# CSR names the code-less end entity (its use spent), and that attempt once
# counted as a wrong code, locking out the address and the name after
# auth-fail-limit (10) key generations.
for _ in $(seq 11); do
	status=$(curl -s -w '%{http_code}' --cacert ManagementCA.cacert.pem --cert device-cert.pem --key enrolled-key.key --data @device.b64 -o /dev/null -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" https://127.0.0.1:$MTLS_PORT/.well-known/est/est/serverkeygen)
	[ "$status" = 200 ] || fail "repeated serverkeygen over mutual TLS gave $status"
done
"$ESTADM" -c var/estd.conf lockout list > lockouts.txt
[ "$(wc -l < lockouts.txt)" = 1 ] || fail "re-keying over mutual TLS locked out: $(cat lockouts.txt)"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${AUTH[@]}" --cacert "$TA" --data-binary @other.csr -H 'Content-Type: application/pkcs10' "https://127.0.0.1:$TLS_PORT/.well-known/est/simpleenroll")" = 200 ] ||
	fail "a user's password is refused from the address that re-keyed"
grep "listener=mtls alias=est op=serverkeygen" estd.log | grep -v 'auth=certificate' | grep_all . &&
	fail "a serverkeygen admitted by certificate is logged with another method: $(grep 'op=serverkeygen' estd.log | tail -1)"
ok "12 key generations over mutual TLS: no lock-out, logged auth=certificate"

# ---- EC, key policies, refusals -------------------------------------------
mkcsr ec
# The demo (rsa:2048) and an alias without server-keygen-key give an EC CSR an
# RSA 2048 key: libest's client reads nothing else (issue 11).
for url in "$EST/serverkeygen" "$EST/rsadefault/serverkeygen"; do
	[ "$(keygen ec.b64 rsa.out "${AUTH[@]}" "$url")" = 200 ] || fail "$url: $(cat rsa.out)"
	part rsa.out 1 | b64d | openssl pkey -inform DER -noout -text | grep_all 'Private-Key: (2048 bit, 2 primes)' \
	    || fail "$url: not an RSA 2048 key for an EC CSR"
	[ "$(part rsa.out 1 | tr -d '\n' | wc -c)" -ge 256 ] || fail "$url: key part under libest's 256 characters"
done
ok "no server-keygen-key (and the demo's rsa:2048): RSA 2048 for an EC CSR, as libest's client needs"
[ "$(keygen ec.b64 ec.out "${AUTH[@]}" "$EST/fromcsr/serverkeygen")" = 200 ] || fail "EC serverkeygen: $(cat ec.out)"
part ec.out 1 | b64d > ec-key.der
part ec.out 2 | b64d | openssl pkcs7 -inform DER -print_certs -out ec-cert.pem
[ "$(openssl pkey -inform DER -in ec-key.der -pubout)" = "$(openssl x509 -in ec-cert.pem -noout -pubkey)" ] \
    || fail "EC key part does not match the certificate (EST-S-64)"
openssl pkey -inform DER -in ec-key.der -noout -text | grep_all 'NIST CURVE: P-256' || fail "from-csr: not P-256"
[ "$(openssl pkey -inform DER -in ec-key.der -pubout)" != "$(openssl pkey -in ec.key -pubout)" ] || fail "EC: CSR key reused"
ok "EC P-256 CSR: a new P-256 key in PKCS#8 that matches the certificate (EST-S-64, EST-S-65)"

[ "$(keygen ec.b64 p384.out "${AUTH[@]}" "$EST/p384/serverkeygen")" = 200 ] || fail "p384 alias: $(cat p384.out)"
part p384.out 1 | b64d | openssl pkey -inform DER -noout -text | grep_all 'NIST CURVE: P-384' \
    || fail "server-keygen-key = ec:P-384 not honoured"
ok "server-keygen-key = ec:P-384 makes a P-384 key whatever the CSR has"
# The cipher that carries a key is as strong as the key (EST-S-62): not a P-384 key (192 bits)
# or an RSA 4096 one (152) over AES-128, on TLS 1.2 or 1.3; an RSA 2048 key (112) is fine there.
AES128_2=(--tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256)
AES128_3=(--tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256)
for v in 2 3; do
	eval 'weak=("${AES128_'$v'[@]}")'
	[ "$(keygen ec.b64 weak.out "${weak[@]}" "${AUTH[@]}" "$EST/p384/serverkeygen")" = 403 ] \
	    || fail "a P-384 key over AES-128 (TLS 1.$v): $(head -c 300 weak.out)"
	grep_all 'stronger than this connection' weak.out || fail "the 403 does not say why: $(cat weak.out)"
	[ "$(keygen ec.b64 weak.out "${weak[@]}" "${AUTH[@]}" "$EST/rsadefault/serverkeygen")" = 200 ] \
	    || fail "an RSA 2048 key over AES-128 (TLS 1.$v): $(head -c 300 weak.out)"
done
ok "a key stronger than the connection's cipher is refused (403), a weaker one is sent (EST-S-62)"

corrupt() { b64d < "$1" | python3 -c 'import sys;d=bytearray(sys.stdin.buffer.read());d[-3]^=1;sys.stdout.buffer.write(d)' | openssl base64; }
corrupt ec.b64 > bad.b64
[ "$(keygen bad.b64 bad.out "${AUTH[@]}" "$EST/serverkeygen")" = 200 ] || fail "broken CSR signature refused: $(cat bad.out)"
ok "a CSR whose signature does not verify is accepted (EST-S-61)"

expect_status 401 "serverkeygen without credentials (EST-S-21, EST-S-62)" "$EST/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @ec.b64
# A key travels only to an authenticated client over TLS (EST-S-62): not over plain HTTP, with
# or without credentials (the suites TLS may use are test_errors' EST-G-03).
expect_status 403 "serverkeygen over plain HTTP (EST-S-62)" "http://127.0.0.1:$HTTP_PORT/.well-known/est/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @ec.b64 "${AUTH[@]}"
# Errors are 4xx with a one-line text/plain reason, never a body that looks like a key (EST-S-71).
for st in 401 501; do
	case $st in
	401) args=("$EST/serverkeygen") ;;
	501) args=("${AUTH[@]}" "$EST/nokeygen/serverkeygen") ;;
	esac
	curl -s -D err.h -o err.txt --cacert "$TA" -H 'Content-Type: application/pkcs10' --data-binary @ec.b64 "${args[@]}"
	tr -d '\r' < err.h | grep_all "^HTTP/[0-9.]* $st" || fail "serverkeygen error: $(head -1 err.h)"
	tr -d '\r' < err.h | grep_all -i '^Content-Type: text/plain' || fail "the $st is not text/plain (EST-S-71)"
	[ "$(wc -l < err.txt)" = 1 ] || fail "the $st's reason is not one line: $(cat err.txt)"
	if grep -qi 'multipart\|BEGIN' err.txt err.h; then fail "the $st carries a key or certificate"; fi
done
ok "serverkeygen's 401 and 501 carry a one-line text/plain reason (EST-S-71)"
expect_status 501 "alias without server-keygen (EST-S-60)" "$EST/nokeygen/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @ec.b64 "${AUTH[@]}"
expect_status 405 "GET /serverkeygen" "$EST/serverkeygen"
openssl req -new -newkey rsa:1024 -nodes -keyout weak.key -subj /CN=weak -outform DER -out weak.der 2>/dev/null
expect_status 400 "from-csr with an RSA 1024 CSR" "$EST/fromcsr/serverkeygen" -H 'Content-Type: application/pkcs10' \
    --data-binary @weak.der "${AUTH[@]}"
# key-types is what the alias certifies: with from-csr (in any case) the CSR's key kind must pass it.
openssl req -new -newkey rsa:2048 -nodes -keyout rsacsr.key -subj /CN=rsa-csr -outform DER -out rsacsr.der 2>/dev/null
[ "$(keygen rsacsr.der rsacsr.out "${AUTH[@]}" "$EST/fromcsrec/serverkeygen")" = 400 ] && grep -q 'key-types' rsacsr.out \
    || fail "From-CSR on an ec:P-256 alias took an RSA CSR: $(head -c 300 rsacsr.out)"
ok "From-CSR on an ec:P-256 alias with an RSA CSR: 400 naming key-types"
# With a key spec the CSR's key is ignored, also when key-types would refuse it (EST-S-61).
[ "$(keygen weak.der weak.out "${AUTH[@]}" "$EST/rsadefault/serverkeygen")" = 200 ] \
    || fail "default server-keygen-key refused an RSA 1024 CSR whose key it ignores: $(cat weak.out)"
ok "no server-keygen-key: the CSR's RSA 1024 key is ignored, not judged by key-types (EST-S-61)"

# ---- encrypted, shared key (DecryptKeyIdentifier, kekri) -------------------
# cms_key ENVELOPE-DER CERTPEM [openssl cms -decrypt args...]: decrypt, verify, unpack; check the key.
cms_key() {
	local env=$1 cert=$2 hl; shift 2
	openssl cms -decrypt -inform DER -in "$env" -binary -out signed.der "$@" || fail "openssl cms -decrypt failed"
	openssl cms -verify -inform DER -in signed.der -CAfile "$TA" -purpose any -binary -out pkg.der 2> verify.txt \
	    || fail "openssl cms -verify failed: $(cat verify.txt)"
	openssl cms -cmsout -print -inform DER -in signed.der | grep_all '2.16.840.1.101.2.1.2.78.5' \
	    || fail "the SignedData does not carry id-ct-KP-aKeyPackage"
	hl=$(openssl asn1parse -inform DER -in pkg.der | awk 'NR == 1 { sub(/.*hl= */, ""); sub(/ .*/, ""); print }')
	openssl asn1parse -inform DER -in pkg.der -offset "$hl" -noout -out inner.der
	[ "$(openssl pkey -inform DER -in inner.der -pubout)" = "$(openssl x509 -in "$cert" -noout -pubkey)" ] \
	    || fail "the decrypted key does not match the certificate"
}
"$MKCSR" ec.key kek-client --kek-id $KEKID --caps id-aes256-wrap,aes-256-cbc | openssl base64 > kek.b64
[ "$(keygen kek.b64 kek.out "${AUTH[@]}" "$EST/serverkeygen")" = 200 ] || fail "KEK serverkeygen: $(cat kek.out)"
[ "$(part_type kek.out 1)" = "application/pkcs7-mime; smime-type=server-generated-key" ] \
    || fail "encrypted key part type: $(part_type kek.out 1)"
part kek.out 1 | b64d > kek-env.der
part kek.out 2 | b64d | openssl pkcs7 -inform DER -print_certs -out kek-cert.pem
openssl cms -cmsout -print -inform DER -in kek-env.der | grep_all 'd.kekri' || fail "not a kekri recipient"
cms_key kek-env.der kek-cert.pem -secretkey "$KEK" -secretkeyid $KEKID
ok "DecryptKeyIdentifier: EnvelopedData(kekri) around a CA-signed key package; openssl cms decrypts and verifies (EST-S-66)"

"$MKCSR" ec.key kek-client --kek-id 99999999 --caps id-aes256-wrap | openssl base64 > unknown.b64
curl -s -o unknown.out --cacert "$TA" "${AUTH[@]}" -H 'Content-Type: application/pkcs10' --data-binary @unknown.b64 "$EST/serverkeygen"
grep -q 'knows no decrypt key' unknown.out || fail "unknown key id: $(cat unknown.out)"
expect_status 400 "unknown DecryptKeyIdentifier (EST-S-67)" "$EST/serverkeygen" -H 'Content-Type: application/pkcs10' \
    --data-binary @unknown.b64 "${AUTH[@]}"
"$MKCSR" ec.key kek-client --kek-id $KEKID | openssl base64 > nocaps.b64
expect_status 400 "DecryptKeyIdentifier without SMIMECapabilities (EST-S-67)" "$EST/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @nocaps.b64 "${AUTH[@]}"
"$MKCSR" ec.key kek-client --kek-id $KEKID --caps id-aes128-wrap | openssl base64 > wrongwrap.b64
expect_status 400 "SMIMECapabilities without the key's wrap algorithm" "$EST/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @wrongwrap.b64 "${AUTH[@]}"

# ---- encrypted, client certificate (AsymmetricDecryptKeyIdentifier) --------
for kind in rsa ec; do
	if [ $kind = rsa ]; then spec=(-newkey rsa:2048); info=d.ktri; else spec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); info=d.kari; fi
	openssl req -new "${spec[@]}" -nodes -keyout ke-$kind.key -subj /CN=ke-$kind -out ke-$kind.csr 2>/dev/null
	[ "$(keygen ke-$kind.csr ke-$kind.p7 "${AUTH[@]}" "$EST/simpleenroll")" = 200 ] || fail "enrol ke-$kind"
	p7_to_pem ke-$kind.p7 ke-$kind.pem
	ski=$(openssl x509 -in ke-$kind.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
	"$MKCSR" ke-$kind.key ke-$kind --cert-id "$ski" --caps rsaEncryption,id-aes256-wrap | openssl base64 > asym-$kind.b64
	[ "$(keygen asym-$kind.b64 asym-$kind.out --cert ke-$kind.pem --key ke-$kind.key "$MEST/serverkeygen")" = 200 ] \
	    || fail "asymmetric ($kind) serverkeygen: $(cat asym-$kind.out)"
	part asym-$kind.out 1 | b64d > asym-$kind.der
	part asym-$kind.out 2 | b64d | openssl pkcs7 -inform DER -print_certs -out asym-$kind-cert.pem
	openssl cms -cmsout -print -inform DER -in asym-$kind.der | grep_all "$info" || fail "$kind: not $info"
	cms_key asym-$kind.der asym-$kind-cert.pem -recip ke-$kind.pem -inkey ke-$kind.key
	ok "AsymmetricDecryptKeyIdentifier ($kind, $info): encrypted for the TLS client certificate; openssl cms decrypts"
done
expect_status 400 "AsymmetricDecryptKeyIdentifier without a TLS client certificate" "$EST/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @asym-rsa.b64 "${AUTH[@]}"
expect_status 400 "AsymmetricDecryptKeyIdentifier naming another certificate" "$MEST/serverkeygen" \
    -H 'Content-Type: application/pkcs10' --data-binary @asym-rsa.b64 --cert ke-ec.pem --key ke-ec.key

# ---- the generated keys never reach the store or the log ------------------
# The private part (EC priv, RSA privateExponent) as hex: the public part is in the certificate.
priv_hex() {
	openssl pkey -inform DER -in "$1" -noout -text | awk '/^(priv|privateExponent):/ { on = 1; next }
		on && /^[A-Za-z]/ { exit } on { gsub(/[ :]/, ""); printf "%s", $0 }' | sed 's/^00//'
}
openssl pkey -in enrolled-key.key -outform DER -out k1.der
cp inner.der k2.der
cp ec-key.der k3.der
for k in k1 k2 k3; do priv_hex $k.der > $k.hex; [ -s $k.hex ] || fail "no private part in $k"; done
python3 - k1 k2 k3 -- var/estkit.db var/estkit.db-wal estd.log <<'EOF' || fail "a generated key was found in the store or the log"
import base64, os, sys
args = sys.argv[1:]
keys, files = args[:args.index('--')], args[args.index('--') + 1:]
for k in keys:
    der = open(k + '.der', 'rb').read()
    priv = bytes.fromhex(open(k + '.hex').read())
    needles = [der, base64.b64encode(der)[:64], priv, priv.hex().encode(), base64.b64encode(priv)[:40]]
    for f in files:
        if os.path.exists(f):
            data = open(f, 'rb').read()
            for n in needles:
                assert n not in data, (k, f, needles.index(n))
EOF
ok "no generated private key (DER or base64) in the store, its WAL or estd's log"

# ---- the key is made off the event loop -----------------------------------
# One worker, RSA 4096 keys (about 2 s each here): a /cacerts sent while two
# keys are being made is answered before either (it waited for both when the
# worker made them). No time limit is asserted, only the order.
stop_estd
sed -i 's/^\[server\]$/[server]\nworkers = 1/' var/estd.conf
cat >> var/estd.conf <<'EOF'
[alias slowkey]
server-keygen = yes
server-keygen-key = rsa:4096
EOF
start_estd
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=slow-key -outform DER -out slow.csr 2>/dev/null
pids=()
for i in 1 2; do
	{ keygen slow.csr slow$i.out "$EST/slowkey/serverkeygen" "${AUTH[@]}" > slow$i.status
	  date +%s%N > slow$i.done; } &
	pids+=($!)
done
sleep 0.3
curl -sf --cacert "$TA" -o cacerts.out "$EST/cacerts" || fail "/cacerts failed while keys were made"
date +%s%N > cacerts.done
wait "${pids[@]}"
for i in 1 2; do
	[ "$(cat slow$i.status)" = 200 ] || fail "slow key $i: $(cat slow$i.status) $(cat slow$i.out)"
	[ "$(cat cacerts.done)" -lt "$(cat slow$i.done)" ] ||
	    fail "/cacerts was answered after RSA 4096 key $i: it waited for the key"
done
part slow1.out 1 | openssl base64 -d | openssl pkey -inform DER -noout -text | grep_all 'Private-Key: (4096 bit' ||
    fail "slowkey made no RSA 4096 key"
ok "an RSA 4096 key is made off the event loop: /cacerts is answered meanwhile, on one worker"

# An end entity's one-time code through /serverkeygen: the key maker keeps
# the code to spend (the authentication it came from is gone by then), and
# it is spent once.
"$ESTADM" -c var/estd.conf ee add --username onetime --dn "CN=onetime" --alias est \
    --password - <<< 'code-one-time' >/dev/null
cat > onetime.cnf <<'EOF'
[req]
distinguished_name = dn
attributes = attrs
prompt = no
[dn]
CN = onetime
[attrs]
challengePassword = code-one-time
EOF
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -config onetime.cnf -outform DER -out onetime.csr 2>/dev/null
[ "$(keygen onetime.csr onetime1.out "$EST/est/serverkeygen")" = 200 ] ||
    fail "one-time code on /serverkeygen: $(cat onetime1.out)"
[ "$(keygen onetime.csr onetime2.out "$EST/est/serverkeygen")" = 401 ] ||
    fail "the one-time code was spent twice: $(cat onetime2.out)"
[ "$("$ESTADM" -c var/estd.conf cert list | grep -c 'CN=onetime')" = 1 ] ||
    fail "not one certificate on record for onetime: $("$ESTADM" -c var/estd.conf cert list)"
ok "an end entity's one-time code on /serverkeygen: 200, then 401; one certificate on record"

finish
