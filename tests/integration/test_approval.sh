#!/usr/bin/env bash
# Manual approval (RFC 7030 §4.2.3; EST-S-43, EST-S-44, EST-S-72): 202 with
# Retry-After until `estadm req approve`, then 200 once; `estadm req reject`
# gives 403; a retry with a new challengePassword on a new connection is the
# same request; /serverkeygen waits the same way; an approval is good only for
# the principal who asked; an otherName that is no string is part of the request.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
cat >> var/estd.conf <<'EOF'
[alias manual]
approval = manual
retry-after = 7
server-keygen = yes

[alias manualhw]
approval = manual
san-types = othername
EOF
printf 'malpwd\n' | "$ESTADM" -c var/estd.conf user add mallory > /dev/null
start_estd
AUTH=(--anyauth -u estuser:estpwd)
PK=(-H 'Content-Type: application/pkcs10')
ADM=("$ESTADM" -c "$T/var/estd.conf")

# pwcsr KEY CN PASSWORD -> CN.der: a CSR for KEY with a challengePassword.
pwcsr() {
	openssl req -new -key "$1" -outform DER -out "$2.der" -config <(printf \
	    '[req]\ndistinguished_name=d\nattributes=a\nprompt=no\nstring_mask=nombstr\n[d]\nCN=%s\n[a]\nchallengePassword=%s\n' \
	    "$2" "$3") || fail "openssl req"
}
# [ALIAS=alias] post OP FILE OUT -> status; response headers in OUT.h
post() {
	curl -s -D "$3.h" -o "$3" -w '%{http_code}' --cacert "$TA" "${AUTH[@]}" "${PK[@]}" \
	    --data-binary @"$2" "$EST/${ALIAS:-manual}/$1"
}
open_count() { "${ADM[@]}" req list | tail -n +2 | grep -c "$1" || true; }

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev.key 2>/dev/null
pwcsr dev.key dev first
[ "$(post simpleenroll dev.der r1)" = 202 ] || fail "manual alias did not answer 202: $(cat r1)"
grep -qi '^Retry-After: 7' r1.h || fail "202 without Retry-After: 7 (EST-S-72): $(cat r1.h)"
[ "$(wc -l < r1)" = 1 ] && grep -q 'waiting for an administrator' r1 || fail "202 body: $(cat r1)"
ok "enrolment on a manual alias: 202, Retry-After: 7 (delta-seconds), one line of text (EST-S-43)"

"${ADM[@]}" req list > list.txt
grep -q 'pending *manual *simpleenroll .* user:estuser *CN=dev' list.txt || fail "req list: $(cat list.txt)"
id=$(awk '$2 == "pending" && $4 == "simpleenroll" { print $1 }' list.txt)
[ -n "$id" ] || fail "no request ID in: $(cat list.txt)"
ok "estadm req list shows request $id pending"

# Same key and subject, another challengePassword, another connection: the same request.
pwcsr dev.key dev second
[ "$(post simpleenroll dev.der r2)" = 202 ] || fail "retry: $(cat r2)"
[ "$(open_count 'CN=dev')" = 1 ] || fail "the retry made a second request: $("${ADM[@]}" req list)"
ok "retry with a new challengePassword is matched to the pending request (EST-S-44)"

"${ADM[@]}" req approve "$id" | grep_all "request $id approved" || fail "req approve"
pwcsr dev.key dev third
[ "$(post simpleenroll dev.der r3)" = 200 ] || fail "after approval: $(cat r3)"
p7_to_pem r3 dev.pem
[ "$(openssl x509 -in dev.pem -noout -pubkey)" = "$(openssl pkey -in dev.key -pubout)" ] || fail "wrong key"
ok "after estadm req approve, the retry gets its certificate (200)"
"${ADM[@]}" req list --all | grep_all "^$id *issued" || fail "request not marked issued"
[ "$(post simpleenroll dev.der r4)" = 202 ] || fail "an approval was used twice: $(cat r4)"
ok "an approval is good for one certificate: the next request waits again"
if "${ADM[@]}" req approve "$id" 2> again.txt; then fail "approved an issued request"; fi
grep -q "is issued, not pending" again.txt || fail "req approve of an issued request: $(cat again.txt)"
if "${ADM[@]}" req reject 9999 2> none.txt; then fail "rejected a request that does not exist"; fi
grep -q "no request 9999" none.txt || fail "$(cat none.txt)"
"${ADM[@]}" req approve abc 2>/dev/null && fail "accepted a non-numeric ID"
[ $? = 2 ] || fail "a bad ID is not a usage error"
ok "estadm req refuses issued, unknown and malformed IDs"

# Rejection.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out bad.key 2>/dev/null
pwcsr bad.key intruder x
[ "$(post simpleenroll intruder.der r5)" = 202 ] || fail "second device: $(cat r5)"
rid=$("${ADM[@]}" req list | awk '$2 == "pending" && /CN=intruder/ { print $1 }')
"${ADM[@]}" req reject "$rid" | grep_all "request $rid rejected" || fail "req reject"
[ "$(post simpleenroll intruder.der r6)" = 403 ] || fail "after rejection: $(cat r6)"
grep -q "rejected" r6 || fail "403 body: $(cat r6)"
[ "$(post simpleenroll intruder.der r7)" = 403 ] || fail "rejection not kept"
ok "after estadm req reject, the retry gets 403, and keeps getting it"

# /serverkeygen waits for approval before the key is made.
mkcsr kg
[ "$(post serverkeygen kg.b64 k1)" = 202 ] || fail "serverkeygen on a manual alias: $(cat k1)"
grep -qi '^Retry-After: 7' k1.h || fail "serverkeygen 202 without Retry-After"
kid=$("${ADM[@]}" req list | awk '$2 == "pending" && $4 == "serverkeygen" { print $1 }')
"${ADM[@]}" req approve "$kid" > /dev/null
[ "$(post serverkeygen kg.b64 k2)" = 200 ] || fail "serverkeygen after approval: $(cat k2)"
grep -q 'Content-Type: application/pkcs8' k2 || fail "no key part after approval"
ok "serverkeygen: 202, approve, 200 with key and certificate"

# Another user with a copy of an approved request's CSR (its subject and public
# key, both public) gets neither the certificate nor the key the server makes:
# /serverkeygen has no proof of possession to stop him.
mkcsr kgm
[ "$(post serverkeygen kgm.b64 m1)" = 202 ] || fail "serverkeygen kgm: $(cat m1)"
mid=$("${ADM[@]}" req list | awk '$2 == "pending" && /CN=kgm/ { print $1 }')
AUTH=(--anyauth -u mallory:malpwd)
[ "$(post serverkeygen kgm.b64 m2)" = 403 ] || fail "mallory on estuser's pending request: $(cat m2)"
"${ADM[@]}" req approve "$mid" > /dev/null
[ "$(post serverkeygen kgm.b64 m3)" = 403 ] || fail "mallory used estuser's approval: $(cat m3)"
grep -q 'another principal' m3 && ! grep -q 'application/pkcs8' m3 || fail "403 body: $(cat m3)"
AUTH=(--anyauth -u estuser:estpwd)
"${ADM[@]}" req list | grep_all "^$mid *approved .* user:estuser " || fail "approval lost: $("${ADM[@]}" req list)"
[ "$(post serverkeygen kgm.b64 m4)" = 200 ] || fail "estuser after mallory's try: $(cat m4)"
grep -q 'Content-Type: application/pkcs8' m4 || fail "no key part for estuser"
ok "an approval is used only by the principal who asked: another user's copy gets 403, the asker 200"

# hwcsr KEY NAME SERIAL -> NAME.der: CN=hw with a hardwareModuleName (RFC 4108) SAN.
hwcsr() {
	openssl req -new -key "$1" -outform DER -out "$2.der" -config <(printf \
	    '[req]\ndistinguished_name=d\nreq_extensions=x\nprompt=no\n[d]\nCN=hw\n[x]\n%s\n[hw]\n%s\n%s\n' \
	    'subjectAltName=otherName:1.3.6.1.5.5.7.8.4;SEQUENCE:hw' 'type=OID:1.2.3.4' \
	    "serial=FORMAT:ASCII,OCTETSTRING:$3") || fail "openssl req"
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out hw.key 2>/dev/null
hwcsr hw.key hwa SN-A
hwcsr hw.key hwb SN-B
[ "$(ALIAS=manualhw post simpleenroll hwa.der h1)" = 202 ] || fail "hardwareModuleName SN-A: $(cat h1)"
hid=$("${ADM[@]}" req list | awk '$2 == "pending" && $3 == "manualhw" { print $1 }')
"${ADM[@]}" req list | grep_all "^$hid .*othername:1.3.6.1.5.5.7.8.4#30" || fail "req list: $("${ADM[@]}" req list)"
"${ADM[@]}" req approve "$hid" > /dev/null
[ "$(ALIAS=manualhw post simpleenroll hwb.der h2)" = 202 ] || fail "SN-A's approval issued SN-B: $(cat h2)"
[ "$(ALIAS=manualhw post simpleenroll hwa.der h3)" = 200 ] || fail "SN-A after approval: $(cat h3)"
ok "an approval for one hardwareModuleName is not good for another of the same key and subject"

# estclient waits out the 202 (Retry-After) and gets its certificate once approved.
mkdir -p ecout
EST_OPENSSL_CACERT="$TA" "$ESTKIT_BIN/estclient" -e -s 127.0.0.1 -p "$TLS_PORT" --path-seg manual \
    -u estuser -h estpwd --common-name waiting --retry-max 3 -o ecout --pem-output 2> ec.err &
ecpid=$!
for _ in $(seq 50); do
	wid=$("${ADM[@]}" req list | awk '$2 == "pending" && /CN=waiting/ { print $1 }')
	[ -n "$wid" ] && break
	sleep 0.2
done
[ -n "$wid" ] || fail "estclient's request is not pending"
"${ADM[@]}" req approve "$wid" > /dev/null
rc=0
wait $ecpid || rc=$?
[ $rc = 0 ] || fail "estclient after approval exited $rc: $(cat ec.err)"
openssl x509 -in ecout/cert-0-0.pem -noout -subject | grep_all 'CN = waiting' || fail "estclient's certificate"
ok "estclient: 202, waits Retry-After, retries after approval and gets its certificate"

# The plain alias is not affected.
expect_status 200 "approval = auto alias issues at once" "$EST/simpleenroll" "${PK[@]}" \
    --data-binary @dev.der "${AUTH[@]}"

finish
