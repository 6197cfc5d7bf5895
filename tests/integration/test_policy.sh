#!/usr/bin/env bash
# Issuance policy (issue 9): who may get which name. Each reproduction of the
# issue gets its refusal (status and reason); RA mode end to end with curl;
# approval issues exactly what was shown; renew-window, revoke-replaced and
# max-active-certificates; the rules are checked at load with FILE:LINE.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
# A partner's CA whose RA certificates alias viara accepts (ra-cas), and one without cmcRA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout xroot.key \
    -subj "/CN=Partner RA Root" -days 30 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign -out xroot.pem 2>/dev/null
for who in xra xplain; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $who.key \
	    -subj "/CN=partner-$who" -out $who.csr 2>/dev/null
done
openssl x509 -req -in xra.csr -CA xroot.pem -CAkey xroot.key -CAcreateserial -days 10 -out xra.pem \
    -extfile <(printf 'extendedKeyUsage=clientAuth,cmcRA\n') 2>/dev/null
openssl x509 -req -in xplain.csr -CA xroot.pem -CAkey xroot.key -CAcreateserial -days 10 \
    -out xplain.pem -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
"$ESTADM" -c var/estd.conf ca import --external PartnerRA xroot.pem >/dev/null
cat >> var/estd.conf <<'EOF'

[alias viara]
mode = ra
authentication = certificate
profile = tls-client
ra-cas = PartnerRA

[profile nosan]
validity-days = 365
extended-key-usage = clientAuth
copy-san = no

# An RA's own alias, with narrower name rules than est's: RA certificates act
# as RAs only on the alias they were issued for (estadm cert ra --alias).
[alias narrowra]
mode = ra
authentication = certificate
profile = tls-client
dns-names = *.narrow.example

# An RA alias that links CSRs to the connection (RFC 7030 §3.5): the RA's clients linked
# theirs to their connections with the RA, not to the RA's with estd (§3.7, EST-S-38).
[alias linkedra]
mode = ra
authentication = certificate
profile = tls-client
channel-binding = tls-unique

# Approval shows and issues the policy's names: this profile drops the CSR's SAN.
[alias held]
authentication = http
profile = nosan
approval = manual

# Renewal opens 30 days before expiry (certificates live 365 days).
[alias early]
authentication = http
profile = tls-client
renew-window = 30

# Renewal any time, the renewed certificate revoked; one valid certificate per end entity.
[alias rr]
mode = client
authentication = challenge-password
profile = tls-client
renew-window = 400
revoke-replaced = yes
max-active-certificates = 1

# The same limit without revoke-replaced: renewal would make two valid certificates.
[alias keep]
mode = client
authentication = challenge-password
profile = tls-client
max-active-certificates = 1
EOF
start_estd
AUTH=(--anyauth -u estuser:estpwd)
PK=(-H 'Content-Type: application/pkcs10')
ADM=("$ESTADM" -c "$T/var/estd.conf")
MEST="https://localhost:$MTLS_PORT/.well-known/est"

# csr NAME SUBJECT [openssl req args...] -> NAME.key, NAME.b64
csr() {
	local name=$1 subj=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
	    -subj "$subj" -outform DER -out "$name.der" "$@" 2>/dev/null || fail "openssl req $name"
	openssl base64 -in "$name.der" -out "$name.b64"
}
# refused STATUS REASON WHAT URL B64 [curl args...]: the status, and the reason in the body.
refused() {
	local want=$1 reason=$2 what=$3 url=$4 b64=$5 got; shift 5
	got=$(curl -s -o body.txt -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data-binary @"$b64" \
	    "$@" "$url") || true
	[ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got: $(cat body.txt)"
	grep -q -- "$reason" body.txt || fail "$what: the answer does not say \"$reason\": $(cat body.txt)"
	ok "$what (HTTP $want: $reason)"
}
# enrol OUT B64 URL [curl args...]: 200 and OUT.pem
enrol() {
	local out=$1 b64=$2 url=$3 got; shift 3
	got=$(curl -s -o "$out.p7" -w '%{http_code}' --cacert "$TA" "${PK[@]}" --data-binary @"$b64" \
	    "$@" "$url") || true
	[ "$got" = 200 ] || fail "enrolment $out: HTTP $got: $(cat "$out.p7")"
	p7_to_pem "$out.p7" "$out.pem"
}

# ---- 1. Any certificate of this CA could get any name --------------------------------
"${ADM[@]}" ee add --username dev-a --dn "CN=dev-a" --alias est --password - <<< code-a >/dev/null
"${ADM[@]}" ee add --username dev-b --dn "CN=dev-b,O=Victim" --alias est --password - <<< code-b >/dev/null
code_csr deva dev-a code-a
enrol deva deva.b64 "$EST/simpleenroll"
ok "dev-a enrolled with its one-time code"
csr evil "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
refused 403 "may only request its own subject" "device certificate asks for CN=localhost" \
    "$MEST/simpleenroll" evil.b64 --cert deva.pem --key deva.key
csr steal "/CN=dev-b/O=Victim"
refused 403 "may only request its own subject" "device certificate asks for another device's DN" \
    "$MEST/simpleenroll" steal.b64 --cert deva.pem --key deva.key
openssl req -new -key deva.key -subj /CN=dev-a -outform DER -out same.der && openssl base64 -in same.der -out same.b64
enrol again same.b64 "$MEST/simpleenroll" --cert deva.pem --key deva.key
openssl x509 -in again.pem -noout -subject -nameopt RFC2253 | grep_all '^subject=CN=dev-a$' \
    || fail "the certificate's own names were not what it got"
ok "a device certificate gets its own subject and SAN again"

# ---- 3. SubjectAltName copied without any rule (HTTP user) ----------------------------
for spec in "DNS:*.example.com|wildcards are refused" "DNS:*|wildcards are refused" \
    "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:administrator@corp.example|type otherName is not allowed" \
    "RID:1.2.3.4|type registeredID is not allowed" "IP:0.0.0.0|0.0.0.0 is refused" \
    "IP:127.0.0.1|127.0.0.1 is refused" "IP:::1|::1 is refused" \
    "IP:::ffff:127.0.0.1|::ffff:127.0.0.1 is refused" "DNS:localhost|localhost\" is refused" \
    "DNS:a.localhost|a.localhost\" is refused"; do
	san=${spec%%|*}
	csr san "/CN=box.acme.org" -addext "subjectAltName=$san"
	refused 403 "${spec#*|}" "HTTP user asks for $san" "$EST/simpleenroll" san.b64 "${AUTH[@]}"
done
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dir.key -outform DER \
    -out dir.der -config <(printf '[req]\ndistinguished_name=d\nreq_extensions=x\nprompt=no\n[d]\nCN=box.acme.org\n[x]\nsubjectAltName=dirName:dn\n[dn]\nCN=admin\n') 2>/dev/null
openssl base64 -in dir.der -out dir.b64
refused 403 "type directoryName is not allowed" "HTTP user asks for a dirName" "$EST/simpleenroll" dir.b64 "${AUTH[@]}"
csr cnlocal "/CN=localhost"
refused 403 "CN \"localhost\" is refused" "HTTP user asks for CN=localhost" "$EST/simpleenroll" cnlocal.b64 "${AUTH[@]}"
csr cnmapped "/CN=::ffff:127.0.0.1"
refused 403 "CN ::ffff:127.0.0.1 is refused" "HTTP user asks for CN=::ffff:127.0.0.1" \
    "$EST/simpleenroll" cnmapped.b64 "${AUTH[@]}"
csr cnwild "/CN=*.acme.org"
refused 403 "wildcards are refused" "HTTP user asks for CN=*.acme.org" "$EST/simpleenroll" cnwild.b64 "${AUTH[@]}"
refused 403 "registered to end entity dev-b" "HTTP user asks for an end entity's DN" \
    "$EST/simpleenroll" steal.b64 "${AUTH[@]}"
"${ADM[@]}" ee add --username dev-c --dn "CN=dev-c" --san dns:dev-c.acme.org,ip:10.9.9.9 --alias est \
    --password - <<< code-c >/dev/null
csr takesan "/CN=thief.acme.org" -addext "subjectAltName=DNS:thief.acme.org,IP:10.9.9.9"
refused 403 "registered to end entity dev-c" "HTTP user asks for an end entity's SAN entry" \
    "$EST/simpleenroll" takesan.b64 "${AUTH[@]}"
# The same names written otherwise, as clients and relying parties read them alike (found
# in review: each of these got dev-v's names before).
"${ADM[@]}" ee add --username dev-v.corp.example --dn "CN=dev-v.corp.example,O=Victim" \
    --san dns:dev-v.corp.example,ip:10.0.0.5,email:victim@corp.example --alias est \
    --password - <<< code-v >/dev/null
variant() {
	local what=$1 subj=$2; shift 2
	csr variant "$subj" "$@"
	refused 403 "registered to end entity dev-v.corp.example" "HTTP user asks for dev-v's names: $what" \
	    "$EST/simpleenroll" variant.b64 "${AUTH[@]}"
}
variant "its DN in capitals, RDNs swapped" "/O=Victim/CN=DEV-V.corp.example"
variant "its host name as the CN, a trailing space" "/CN=dev-v.corp.example "
variant "its host name as the CN alone" "/CN=dev-v.corp.example"
variant "its DNS name in capitals" "/CN=thief.acme.org" -addext "subjectAltName=DNS:DEV-V.CORP.EXAMPLE"
variant "its e-mail address in capitals" "/CN=thief.acme.org" -addext "subjectAltName=email:victim@CORP.example"
variant "its e-mail address as a subject attribute" "/CN=thief.acme.org/emailAddress=Victim@corp.example"
variant "its IP address as a DNS name" "/CN=thief.acme.org" -addext "subjectAltName=DNS:10.0.0.5"
variant "its IP address IPv4-mapped" "/CN=thief.acme.org" -addext "subjectAltName=IP:::ffff:10.0.0.5"
code_csr devv dev-v.corp.example code-v
enrol devv devv.b64 "$EST/simpleenroll"
ok "dev-v itself still gets its names"
csr prefix "/CN=dev"
enrol prefix prefix.b64 "$EST/simpleenroll" "${AUTH[@]}"
ok "a name that only begins like a registered one (CN=dev, CN=dev-a) is not taken for it"
csr fine "/CN=box.acme.org" -addext "subjectAltName=DNS:box.acme.org,IP:10.1.2.3,email:ops@acme.org"
enrol fine fine.b64 "$EST/simpleenroll" "${AUTH[@]}"
ok "HTTP user gets ordinary names"

# ---- 4. EC keys with explicit parameters ---------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit \
    -out explicit.key 2>/dev/null
openssl req -new -key explicit.key -subj /CN=explicit.acme.org -outform DER -out explicit.der 2>/dev/null
openssl base64 -in explicit.der -out explicit.b64
refused 400 "explicit curve parameters" "EC key with explicit parameters" "$EST/simpleenroll" \
    explicit.b64 "${AUTH[@]}"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout k1.key \
    -subj /CN=k1.acme.org -outform DER -out k1.der 2>/dev/null
openssl base64 -in k1.der -out k1.b64
refused 400 "not accepted on alias est (key-types)" "EC key on a curve key-types does not list" \
    "$EST/simpleenroll" k1.b64 "${AUTH[@]}"

# ---- 5. Approval issues exactly what was shown ---------------------------------------
csr held "/CN=held.acme.org" -addext "subjectAltName=DNS:held.acme.org"
[ "$(curl -s -o held.out -w '%{http_code}' --cacert "$TA" "${AUTH[@]}" "${PK[@]}" \
    --data-binary @held.b64 "$EST/held/simpleenroll")" = 202 ] || fail "held: no 202: $(cat held.out)"
row=$("${ADM[@]}" req list | awk '/CN=held.acme.org/')
id=$(echo "$row" | awk '{print $1}')
"${ADM[@]}" req approve "$id" >/dev/null
enrol held held.b64 "$EST/held/simpleenroll" "${AUTH[@]}"
! openssl x509 -in held.pem -noout -ext subjectAltName 2>/dev/null | grep_all DNS: \
    || fail "approval issued a SAN the profile (copy-san = no) does not give"
ok "approved request issued without the SAN, as the policy decided and the approval showed"

# ---- 2. RA certificates (RFC 7030 §3.7) ----------------------------------------------
"${ADM[@]}" cert ra --dn "CN=ra1,O=ACME" --out ra1 >/dev/null || fail "estadm cert ra"
openssl x509 -in ra1.pem -noout -ext extendedKeyUsage | grep_all 'CMC Registration Authority' \
    || fail "the RA certificate lacks id-kp-cmcRA"
csr proxied "/CN=sensor7.acme.org" -addext "subjectAltName=DNS:sensor7.acme.org"
enrol proxied proxied.b64 "$MEST/simpleenroll" --cert ra1.pem --key ra1.key
openssl x509 -in proxied.pem -noout -subject -nameopt RFC2253 | grep_all 'CN=sensor7.acme.org' \
    || fail "RA enrolment: wrong subject"
grep -q 'principal=ra:' estd.log || fail "the log does not name the RA principal"
ok "an RA certificate enrols another subject (RA mode, end to end with curl)"
refused 403 "CN \"localhost\" is refused" "RA certificate asks for CN=localhost" \
    "$MEST/simpleenroll" cnlocal.b64 --cert ra1.pem --key ra1.key
refused 403 "registered to end entity dev-b" "RA certificate asks for an end entity's DN" \
    "$MEST/simpleenroll" steal.b64 --cert ra1.pem --key ra1.key

# An RA certificate issued for one alias is no RA on another alias of the same CA
# (it was: one for narrowra took est's wider names, and one for est narrowra's).
"${ADM[@]}" cert ra --dn "CN=ra-narrow,O=ACME" --out ranarrow --alias narrowra >/dev/null ||
    fail "estadm cert ra --alias narrowra"
csr nsensor "/CN=s1.narrow.example" -addext "subjectAltName=DNS:s1.narrow.example"
enrol nsensor nsensor.b64 "$MEST/narrowra/simpleenroll" --cert ranarrow.pem --key ranarrow.key
ok "an RA certificate for alias narrowra enrols another subject there"
csr wide "/CN=sensor9.acme.org"
refused 403 "issued for another alias" "an RA certificate for narrowra asks est for another subject" \
    "$MEST/simpleenroll" wide.b64 --cert ranarrow.pem --key ranarrow.key
refused 403 "issued for another alias" "an RA certificate for est asks narrowra for another subject" \
    "$MEST/narrowra/simpleenroll" nsensor.b64 --cert ra1.pem --key ra1.key
openssl req -new -key ranarrow.key -subj "/CN=ra-narrow/O=ACME" -outform DER -out raown.der &&
    openssl base64 -in raown.der -out raown.b64
enrol raown raown.b64 "$MEST/simpleenroll" --cert ranarrow.pem --key ranarrow.key
ok "on another alias it is an ordinary certificate of the CA: its own names only"
rc=0; "${ADM[@]}" cert ra --dn "CN=ra-held" --out raheld --alias held > raheld.out 2>&1 || rc=$?
[ $rc = 1 ] && grep_all 'alias held has no certificate authentication' raheld.out && [ ! -e raheld.key ] ||
    fail "cert ra for an alias without certificate authentication: exit $rc, $(cat raheld.out)"
ok "estadm cert ra refuses an alias where an RA certificate could not act"

# RA policy for linking (EST-S-38): an RA forwards CSRs its clients linked to their own
# connections with it, so their challengePassword is not this connection's; it must be there.
"${ADM[@]}" cert ra --dn "CN=ra-linked,O=ACME" --out ralinked --alias linkedra >/dev/null ||
    fail "estadm cert ra --alias linkedra"
# pwcsr NAME PASSWORD DN-LINE...: NAME.key, NAME.b64 with that challengePassword
pwcsr() {
	local name=$1 pw=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -outform DER \
	    -out "$name.der" -config <(printf '[req]\nprompt=no\ndistinguished_name=d\nattributes=a\n[a]\n'
	    printf 'challengePassword=%s\n[d]\n' "$pw"; printf '%s\n' "$@") 2>/dev/null || fail "openssl req $name"
	openssl base64 -in "$name.der" -out "$name.b64"
}
pwcsr linked "+rrCir/7+EYu50T4" CN=linked.acme.org
enrol linked linked.b64 "$MEST/linkedra/simpleenroll" --cert ralinked.pem --key ralinked.key
ok "an RA certificate forwards a CSR linked to its client's connection (EST-S-38)"
csr unlinked "/CN=unlinked.acme.org"
refused 403 "links the CSR to the TLS connection" "an RA forwards a CSR without linking (EST-S-38)" \
    "$MEST/linkedra/simpleenroll" unlinked.b64 --cert ralinked.pem --key ralinked.key
# Not an RA here: an RA certificate of another alias is an ordinary certificate, which links its
# own CSR to its own connection; another connection's value is refused.
pwcsr notra "+rrCir/7+EYu50T4" CN=ra-narrow O=ACME
refused 403 "not this TLS connection's channel binding" "a non-RA certificate with another session's linking (EST-S-38)" \
    "$MEST/linkedra/simpleenroll" notra.b64 --cert ranarrow.pem --key ranarrow.key

csr viaext "/CN=sensor8.acme.org" -addext "subjectAltName=DNS:sensor8.acme.org"
enrol viaext viaext.b64 "$MEST/viara/simpleenroll" --cert xra.pem --key xra.key
ok "an RA certificate of a CA in ra-cas enrols another subject"
refused 403 "must carry the EKU id-kp-cmcRA" "a certificate of a ra-cas CA without cmcRA" \
    "$MEST/viara/simpleenroll" viaext.b64 --cert xplain.pem --key xplain.key
refused 401 "authentication failed" "a ra-cas RA certificate on an alias that does not list its CA" \
    "$MEST/simpleenroll" viaext.b64 --cert xra.pem --key xra.key

# ---- 6. Renewal policy ---------------------------------------------------------------
csr early "/CN=early.acme.org"
enrol early early.b64 "$EST/early/simpleenroll" "${AUTH[@]}"
openssl req -new -key early.key -subj /CN=early.acme.org -outform DER -out early2.der
openssl base64 -in early2.der -out early2.b64
refused 403 "too early to renew: renewal opens" "renewal before renew-window" \
    "$MEST/early/simplereenroll" early2.b64 --cert early.pem --key early.key

"${ADM[@]}" ee add --username dev-r --dn "CN=dev-r" --alias rr --password - <<< code-r --uses 3 >/dev/null
code_csr r1 dev-r code-r
enrol r1 r1.b64 "$EST/rr/simpleenroll"
code_csr r2 dev-r code-r
refused 403 "max-active-certificates" "a second valid certificate for the end entity" \
    "$EST/rr/simpleenroll" r2.b64
"${ADM[@]}" ee show dev-r | grep -c ' valid until' | grep_all '^1$' || fail "the refused certificate was recorded"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout r3.key -subj /CN=dev-r \
    -outform DER -out r3.der 2>/dev/null
openssl base64 -in r3.der -out r3.b64
enrol r3 r3.b64 "$MEST/rr/simplereenroll" --cert r1.pem --key r1.key
serial=$(openssl x509 -in r1.pem -noout -serial | cut -d= -f2)
"${ADM[@]}" cert show "$serial" > r1.show
grep -q '^status: *revoked' r1.show && grep -q '^reason: *superseded' r1.show \
    || fail "the renewed certificate is not revoked as superseded: $(cat r1.show)"
ok "revoke-replaced: the renewed certificate is revoked (superseded) with the renewal"
refused 403 "is revoked" "the replaced certificate cannot renew again" \
    "$MEST/rr/simplereenroll" r3.b64 --cert r1.pem --key r1.key

"${ADM[@]}" ee add --username dev-k --dn "CN=dev-k" --alias keep --password - <<< code-k >/dev/null
code_csr k1 dev-k code-k
enrol k1 k1.b64 "$EST/keep/simpleenroll"
openssl req -new -key k1.key -subj /CN=dev-k -outform DER -out k2.der && openssl base64 -in k2.der -out k2.b64
refused 403 "max-active-certificates" "renewal without revoke-replaced past the limit" \
    "$MEST/keep/simplereenroll" k2.b64 --cert k1.pem --key k1.key

# ---- the rules are checked at load, with FILE:LINE ------------------------------------
sed 's/^renew-window = 30$/renew-window = 30\ndns-names = bad name!, *.acme.org/' var/estd.conf > bad.conf
! "$ESTD" -n -c bad.conf > bad.out 2>&1 || fail "estd accepted a bad dns-names"
grep -q "bad.conf:[0-9]*: \[alias early\] dns-names" bad.out || fail "no FILE:LINE for dns-names: $(cat bad.out)"
sed 's/^renew-window = 30$/renew-window = 30\nip-ranges = 10.1.2.3\/8/' var/estd.conf > bad2.conf
! "$ESTD" -n -c bad2.conf > bad2.out 2>&1 || fail "estd accepted host bits in ip-ranges"
grep -q "bad2.conf:[0-9]*: \[alias early\] ip-ranges" bad2.out || fail "no FILE:LINE for ip-ranges: $(cat bad2.out)"
ok "bad name rules refused at load with FILE:LINE"

check_estd_exit
finish
