#!/usr/bin/env bash
# Names registered to an end entity stay its own, however another client writes
# them (review of the name index, store schema 7): an address with a final dot
# or surrounding spaces, a wildcard that covers a registered host name (EST-C-23:
# relying parties take *.corp.example for dev-v.corp.example), a bare CN that a
# TLS client falls back to for a registered single-label dNSName. The alias's
# deny lists see the same spellings. Each refusal is 403 with the reason (EST-S-42).
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
cat >> var/estd.conf <<'EOF'

# Wildcards allowed: an HTTP user may ask for *.domain, but not over a registered name.
[alias wild]
authentication = http
profile = tls-client
allow-wildcards = yes
EOF
start_estd
AUTH=(--anyauth -u estuser:estpwd)
PK=(-H 'Content-Type: application/pkcs10')
ADM=("$ESTADM" -c "$T/var/estd.conf")

# csr NAME SUBJECT [openssl req args...] -> NAME.key, NAME.b64
csr() {
	local name=$1 subj=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
	    -subj "$subj" -outform DER -out "$name.der" "$@" 2>/dev/null || fail "openssl req $name"
	openssl base64 -in "$name.der" -out "$name.b64"
}
# answer WANT REASON WHAT URL B64 [curl args...]: the status, and the reason in the body.
answer() {
	local want=$1 reason=$2 what=$3 url=$4 b64=$5 got; shift 5
	got=$(curl -s -o body.txt -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data-binary @"$b64" \
	    "$@" "$url") || true
	[ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got: $(cat body.txt)"
	[ "$want" = 200 ] || grep -q -- "$reason" body.txt ||
	    fail "$what: the answer does not say \"$reason\": $(cat body.txt)"
	ok "$what (HTTP $want${reason:+: $reason})"
}
# taken WHAT URL SUBJECT [openssl req args...]: refused as dev-v's.
taken() {
	local what=$1 url=$2 subj=$3; shift 3
	csr ask "$subj" "$@"
	answer 403 "registered to end entity dev-v" "HTTP user asks for dev-v's names: $what" \
	    "$url/simpleenroll" ask.b64 "${AUTH[@]}"
}
# free WHAT URL SUBJECT [openssl req args...]: issued.
free() {
	local what=$1 url=$2 subj=$3; shift 3
	csr ask "$subj" "$@"
	answer 200 "" "HTTP user gets $what" "$url/simpleenroll" ask.b64 "${AUTH[@]}"
}

"${ADM[@]}" ee add --username dev-v --dn "CN=dev-v,O=Victim" \
    --san dns:dev-v.corp.example,ip:10.0.0.5,ip:2001:db8::5,dns:printer --alias est \
    --password - <<< code-v >/dev/null
"${ADM[@]}" ee add --username dev-w --dn "CN=router" --alias est --password - <<< code-w >/dev/null

# ---- an address written as a host name, with a final dot or spaces -------------------
taken "its IPv4 address as a DNS name with a final dot" "$EST" "/CN=thief.acme.org" \
    -addext "subjectAltName=DNS:10.0.0.5."
taken "its IPv4 address as the CN with a final dot" "$EST" "/CN=10.0.0.5."
taken "its IPv4 address as the CN with a trailing space" "$EST" "/CN=10.0.0.5 "
taken "its IPv6 address as the CN with a trailing space" "$EST" "/CN=2001:DB8:0::5 "
taken "its IPv4 address as the CN, a space before a final dot" "$EST" "/CN=10.0.0.5 ."

# ---- a wildcard over a registered host name -------------------------------------------
taken "a wildcard over its DNS name" "$EST/wild" "/CN=thief.acme.org" \
    -addext "subjectAltName=DNS:*.corp.example"
taken "a wildcard over its DNS name, in capitals" "$EST/wild" "/CN=thief.acme.org" \
    -addext "subjectAltName=DNS:*.CORP.example."
taken "a partial wildcard over its DNS name" "$EST/wild" "/CN=thief.acme.org" \
    -addext "subjectAltName=DNS:dev-*.corp.example"
taken "a wildcard CN over its DNS name" "$EST/wild" "/CN=*.corp.example"
free "a wildcard over no registered name" "$EST/wild" "/CN=thief.acme.org" \
    -addext "subjectAltName=DNS:*.acme.org"
free "a name beside a registered one" "$EST" "/CN=other.corp.example" \
    -addext "subjectAltName=DNS:other.corp.example"

# ---- a bare CN is the host name a client falls back to ---------------------------------
taken "its single-label DNS name as the CN" "$EST" "/CN=PRINTER"
free "a bare CN that another end entity has as its own bare CN" "$EST" "/CN=router/O=Elsewhere"

# ---- a DN of more attributes than the comparison takes ----------------------------------
# est_name_equal_unordered calls two DNs of over 64 attributes different, so one registered
# so long was anyone's: estadm refuses to register one, and estd to issue one.
long=CN=dev-m
longsubj=/CN=dev-m
for i in $(seq 64); do long="$long,OU=u$i"; longsubj="$longsubj/OU=u$i"; done
"${ADM[@]}" ee add --username dev-m --dn "$long" --alias est --password - <<< code-m > out.txt 2>&1 &&
    fail "estadm registered a DN of 65 attributes"
grep -q "at most 64" out.txt || fail "estadm ee add with 65 attributes: $(cat out.txt)"
ok "estadm refuses a DN of 65 attributes"
csr dl "$longsubj"
answer 403 "at most 64" "HTTP user asks for a subject of 65 attributes" "$EST/simpleenroll" dl.b64 "${AUTH[@]}"

# ---- the deny lists see the spellings the keys see -------------------------------------
csr dl "/CN=box.acme.org" -addext "subjectAltName=DNS:localhost."
answer 403 "is refused on this alias" "HTTP user asks for DNS:localhost." "$EST/simpleenroll" dl.b64 "${AUTH[@]}"
csr dl "/CN=localhost "
answer 403 "is refused on this alias" "HTTP user asks for CN=\"localhost \"" "$EST/simpleenroll" dl.b64 "${AUTH[@]}"
csr dl "/CN=localhost ."
answer 403 "is refused on this alias" "HTTP user asks for CN=\"localhost .\"" "$EST/simpleenroll" dl.b64 "${AUTH[@]}"
csr dl "/CN=127.0.0.1."
answer 403 "is refused on this alias" "HTTP user asks for CN=127.0.0.1." "$EST/simpleenroll" dl.b64 "${AUTH[@]}"
csr dl "/CN=box.acme.org" -addext "subjectAltName=DNS:127.0.0.1"
answer 403 "is refused on this alias" "HTTP user asks for DNS:127.0.0.1" "$EST/simpleenroll" dl.b64 "${AUTH[@]}"

# ---- the owner is not refused its own names --------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout devv.key -outform DER \
    -out devv.der -config <(printf '[req]\ndistinguished_name=d\nattributes=a\nprompt=no\n[d]\nCN=dev-v\n[a]\nchallengePassword=code-v\n') \
    2>/dev/null || fail "openssl req devv"
openssl base64 -in devv.der -out devv.b64
answer 200 "" "dev-v itself with its code" "$EST/simpleenroll" devv.b64

finish
