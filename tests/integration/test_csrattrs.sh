#!/usr/bin/env bash
# /csrattrs (RFC 7030 §4.5, RFC 8951, est-conformance.md §10) and
# csrattrs-enforce (EST-S-47): the demo alias's list decoded by openssl
# asn1parse, 204 for an alias without one, no client authentication, and
# CSRs refused with a reason that names what is missing.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
cat >> var/estd.conf <<'EOF'
[alias none]
[alias strict]
server-keygen = yes
csrattrs = challengePassword, ecPublicKey:P-256, ecdsa-with-SHA256, extensionRequest:subjectAltName
csrattrs-enforce = yes
[alias strictcsr]
server-keygen = yes
server-keygen-key = from-csr
csrattrs = challengePassword, ecPublicKey:P-256, ecdsa-with-SHA256, extensionRequest:subjectAltName
csrattrs-enforce = yes
[alias linked]
channel-binding = tls-unique
[alias linkedlist]
channel-binding = tls-unique
csrattrs = ecPublicKey:P-256, ecdsa-with-SHA256
[alias linkedpw]
channel-binding = tls-unique
csrattrs = ecdsa-with-SHA256, challengePassword
EOF
start_estd
AUTH=(--anyauth -u estuser:estpwd)
PK=(-H 'Content-Type: application/pkcs10')

# The demo alias (estadm init), without credentials (EST-S-90).
status=$(curl -s -D h.txt -o attrs.b64 -w '%{http_code}' --cacert "$TA" "$EST/csrattrs")
[ "$status" = 200 ] || fail "/csrattrs gave $status"
grep -qi '^Content-Type: application/csrattrs' h.txt || fail "wrong type (EST-G-09): $(grep -i content-type h.txt)"
b64d < attrs.b64 | openssl asn1parse -inform DER > asn1.txt || fail "not DER"
for want in 'OBJECT *:id-ecPublicKey' 'OBJECT *:prime256v1' 'OBJECT *:ecdsa-with-SHA256' \
    'OBJECT *:Extension Request' 'OBJECT *:X509v3 Subject Alternative Name'; do
	grep -Eq "$want" asn1.txt || fail "asn1parse lacks $want: $(cat asn1.txt)"
done
[ "$(grep -c 'Extension Request' asn1.txt)" = 1 ] || fail "more than one extensionRequest (EST-S-95, EST-E-05)"
head -1 asn1.txt | grep_all 'cons: SEQUENCE' || fail "not a SEQUENCE"
ok "demo /csrattrs: application/csrattrs, base64 DER CsrAttrs that asn1parse decodes (EST-S-91, EST-S-93, EST-S-95)"

expect_status 204 "alias without csrattrs (EST-S-92)" "$EST/none/csrattrs"
expect_status 405 "POST /csrattrs (EST-S-06)" "$EST/csrattrs" -X POST --data x
expect_status 200 "the strict alias's /csrattrs" "$EST/strict/csrattrs"
curl -s --cacert "$TA" "$EST/strict/csrattrs" | b64d | openssl asn1parse -inform DER | grep_all ':challengePassword' \
    || fail "strict list lacks challengePassword (EST-S-34)"

# An alias that links the CSR to its TLS connection asks for the challengePassword
# that carries the binding, listed or not (EST-S-34, EST-S-94); once.
attrs() { curl -s --cacert "$TA" "$EST/$1/csrattrs" | b64d | openssl asn1parse -inform DER; }
attrs linked > linked.txt
[ "$(grep -c ':challengePassword' linked.txt)" = 1 ] ||
	fail "a linking alias without csrattrs does not ask for challengePassword: $(cat linked.txt)"
attrs linkedlist > linkedlist.txt
for want in ':challengePassword' ':id-ecPublicKey' ':prime256v1' ':ecdsa-with-SHA256'; do
	grep_all "$want" linkedlist.txt || fail "linking alias with a list lacks $want: $(cat linkedlist.txt)"
done
attrs linkedpw > linkedpw.txt
[ "$(grep -c ':challengePassword' linkedpw.txt)" = 1 ] ||
	fail "challengePassword listed and linked: not once: $(cat linkedpw.txt)"
ok "a linking alias's /csrattrs asks for challengePassword, with or without its own list, once (EST-S-34, EST-S-94)"

# Enforcement (EST-S-47): each CSR lacks one thing; the 400 says which.
cfg() { printf '[req]\ndistinguished_name=d\nattributes=a\nprompt=no\n[d]\nCN=dev\n[a]\n%s\n' "$1"; }
make() { # NAME KEYSPEC CHALLENGE SAN
	local name=$1 spec=$2 pw=$3 san=$4 args=()
	[ -n "$san" ] && args=(-addext "subjectAltName=$san")
	# shellcheck disable=SC2086
	openssl req -new -newkey $spec -nodes -keyout $name.key -outform DER -out $name.der \
	    -config <(cfg "${pw:+challengePassword=$pw}") "${args[@]}" 2>/dev/null || fail "openssl req $name"
}
make good "ec -pkeyopt ec_paramgen_curve:P-256" secret DNS:dev.example
make nopw "ec -pkeyopt ec_paramgen_curve:P-256" "" DNS:dev.example
make nosan "ec -pkeyopt ec_paramgen_curve:P-256" secret ""
make rsa "rsa:2048" secret DNS:dev.example
make p384 "ec -pkeyopt ec_paramgen_curve:P-384" secret DNS:dev.example
refused() { # NAME WORD
	local got
	got=$(curl -s -w ' %{http_code}' --cacert "$TA" "${AUTH[@]}" "${PK[@]}" --data-binary @$1.der "$EST/strict/simpleenroll")
	case "$got" in
	*"$2"*" 400") ok "CSR $1 refused with 400 naming $2 (EST-S-47)" ;;
	*) fail "CSR $1: expected 400 naming $2, got: $got" ;;
	esac
}
refused nopw challengePassword
refused nosan subjectAltName
refused rsa "RSA 2048"
refused p384 "EC P-384"
expect_status 200 "a CSR with everything the list asks for" "$EST/strict/simpleenroll" "${PK[@]}" \
    --data-binary @good.der "${AUTH[@]}"
expect_status 200 "enforcement is per alias: the demo alias takes the RSA CSR" "$EST/simpleenroll" "${PK[@]}" \
    --data-binary @rsa.der "${AUTH[@]}"
# /serverkeygen ignores the CSR's key and signature, so only the rest is checked.
expect_status 200 "serverkeygen on the strict alias with an RSA CSR (key not checked)" \
    "$EST/strict/serverkeygen" "${PK[@]}" --data-binary @rsa.der "${AUTH[@]}"
expect_status 400 "serverkeygen on the strict alias without challengePassword" \
    "$EST/strict/serverkeygen" "${PK[@]}" --data-binary @nopw.der "${AUTH[@]}"
# With from-csr the CSR's key decides the key made, so the list's key item binds it (EST-S-47).
got=$(curl -s -w ' %{http_code}' --cacert "$TA" "${AUTH[@]}" "${PK[@]}" --data-binary @rsa.der "$EST/strictcsr/serverkeygen")
case "$got" in
*"RSA 2048"*" 400") ok "serverkeygen, from-csr, strict alias: the RSA CSR refused with 400 naming its key" ;;
*) fail "from-csr serverkeygen made a key the enforced list excludes: $(printf '%s' "$got" | tail -c 200)" ;;
esac
expect_status 200 "serverkeygen, from-csr, strict alias: a CSR with everything the list asks for" \
    "$EST/strictcsr/serverkeygen" "${PK[@]}" --data-binary @good.der "${AUTH[@]}"

finish
