#!/usr/bin/env bash
# Logs (issue 14, point 5): the access log's key=value fields, with the
# serial issued and the authentication method, and its JSON form in a file;
# the hash-chained audit log of every issuance, renewal, revocation and
# estadm change, checked by `estadm audit verify`, which finds an edited
# line; an issuance that cannot be audited is not handed out.
. "$(dirname "$0")/lib.sh"

init_demo
grep -qx 'audit-log = audit.log' "$T/var/estd.conf" || fail "estadm init does not configure the audit log"
start_estd
cd "$T"
PK=(-H 'Content-Type: application/pkcs10')

# fields_of KEYS: the last access line on standard input, parsed, as "k=v ..." for KEYS.
fields_of() {
	tail -n 1 > fields.in
	python3 - "$1" fields.in <<'PY'
import re, sys
line = open(sys.argv[2]).read().rstrip("\n")
line = line.split(" ", 2)[2]          # after the log's time and level
fields = {}
for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line):
    k, v = m.group(1), m.group(2)
    fields[k] = v[1:-1] if v.startswith('"') else v
print(" ".join(f"{k}={fields.get(k, '?')}" for k in sys.argv[1].split(",")))
PY
}

# --- access log: key=value, serial and auth method ---------------------------
mkcsr dev
status=$(curl -s -o dev.p7 -w '%{http_code}' --cacert "$TA" --digest -u estuser:estpwd "${PK[@]}" \
    --data-binary @dev.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "enrolment gave $status"
p7_to_pem dev.p7 dev.pem
# estd writes serials as openssl prints them, in whole bytes.
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
serial=$(serial_of dev.pem)
got=$(grep 'op=simpleenroll .*status=200' estd.log | fields_of peer,listener,alias,op,principal,status,auth,serial)
case "$got" in
	"peer=127.0.0.1:"*" listener=tls alias=est op=simpleenroll principal=user:estuser status=200 auth=digest serial=$serial") ;;
	*) fail "access line: $got" ;;
esac
grep 'op=simpleenroll .*status=200' estd.log | tail -n 1 |
	grep_all -E ' peer=\S+ listener=\S+ alias=\S+ op=\S+ principal=\S+ status=[0-9]+ ms=[0-9.]+ auth=\S+ serial=\S+$' ||
	fail "access line fields not in the documented order"
ok "access line: peer, listener, alias, op, principal, status, ms, auth=digest, serial issued"

expect_status 401 "wrong password" "$EST/simpleenroll" --basic -u estuser:wrong "${PK[@]}" --data-binary @dev.b64
got=$(grep 'op=simpleenroll .*status=401' estd.log | fields_of principal,auth,serial)
[ "$got" = "principal=- auth=basic serial=-" ] || fail "401 access line: $got"
ok "a failed authentication names the method tried, no principal, no serial"

# A client-chosen name cannot forge a field: the CN lands quoted in the audit log.
status=$(curl -s -o renew.p7 -w '%{http_code}' --cacert "$TA" --cert dev.pem --key dev.key "${PK[@]}" \
    --data-binary @dev.b64 "$MEST/simplereenroll")
[ "$status" = 200 ] || fail "renewal gave $status"
p7_to_pem renew.p7 renew.pem
rserial=$(serial_of renew.pem)
got=$(grep 'op=simplereenroll .*status=200' estd.log | fields_of principal,auth,serial)
[ "$got" = "principal=cert:$serial auth=certificate serial=$rserial" ] || fail "renewal access line: $got"
ok "renewal: auth=certificate, the renewed certificate as principal, the new serial"

# --- the audit log -------------------------------------------------------------
"$ESTADM" -c var/estd.conf cert revoke "$serial" --reason superseded > /dev/null
printf 'pw1\n' | "$ESTADM" -c var/estd.conf user add alice > /dev/null
printf 'topsecret\n' > code.txt
"$ESTADM" -c var/estd.conf ee add --username d9 --dn CN=d9 --alias est --password-file code.txt > /dev/null
"$ESTADM" -c var/estd.conf cert list > /dev/null
"$ESTADM" -c var/estd.conf audit verify > verify.out || fail "audit verify: $(cat verify.out)"
grep -q '6 entries, chain intact' verify.out || fail "unexpected: $(cat verify.out) $(cat var/audit.log)"
A=var/audit.log
sed -n 1p $A | grep_all '^seq=1 time=[0-9T:.-]*Z prev=0\{64\} who=admin:[a-z0-9_-]* what=init ' || fail "init not audited: $(sed -n 1p $A)"
sed -n 2p $A | grep_all "^seq=2 time=[^ ]* prev=[0-9a-f]\{64\} who=user:estuser what=issue serial=$serial subject=\"CN=dev\" alias=est profile=[a-z0-9_-]* auth=digest peer=127.0.0.1:[0-9]* hash=[0-9a-f]\{64\}$" ||
	fail "issuance not audited: $(sed -n 2p $A)"
sed -n 3p $A | grep_all "who=cert:$serial what=renew serial=$rserial " || fail "renewal not audited: $(sed -n 3p $A)"
sed -n 4p $A | grep_all "what=\"cert revoke\" args=\"$serial --reason superseded\"" || fail "revocation not audited: $(sed -n 4p $A)"
sed -n 5p $A | grep_all 'what="user add" args=alice' || fail "user add not audited: $(sed -n 5p $A)"
sed -n 6p $A | grep_all 'what="ee add" args=".*--password-file \*\*\*"' || fail "ee add not audited: $(sed -n 6p $A)"
! grep -q topsecret $A || fail "the enrolment code is in the audit log"
ok "audit log: init, issue, renew, cert revoke, user add, ee add (code masked); cert list not recorded"

cp $A audit.orig
sed -i "2s/serial=$serial/serial=00$serial/" $A
rc=0
"$ESTADM" -c var/estd.conf audit verify > verify.out 2> verify.err || rc=$?
[ "$rc" = 1 ] || fail "audit verify of an edited log exited $rc"
grep -q 'audit.log:2: the line was changed' verify.err || fail "verify does not name the line: $(cat verify.err)"
sed '3d' audit.orig > $A
rc=0
"$ESTADM" -c var/estd.conf audit verify > verify.out 2> verify.err || rc=$?
[ "$rc" = 1 ] && grep -q 'audit.log:3: the chain is broken' verify.err || fail "a removed line was not found: $(cat verify.err)"
cp audit.orig $A
ok "audit verify finds an edited line and a removed one, by line number"

# Fail closed: a log that cannot be continued means no certificate.
echo "not an audit line" >> $A
mkcsr dev2
status=$(curl -s -o dev2.out -w '%{http_code}' --cacert "$TA" --digest -u estuser:estpwd "${PK[@]}" \
    --data-binary @dev2.b64 "$EST/simpleenroll")
[ "$status" = 503 ] || fail "enrolment with a broken audit log gave $status"
grep -q 'issued and stored but not handed out' estd.log || fail "the withheld certificate is not logged"
cp audit.orig $A
ok "an issuance that cannot be audited is refused with 503 and logged"

# The attacker's side: a password holder asks for a subject of kilobytes. Its
# audit line is cut at the line's bound, and the chain must still verify.
# 63 attributes and the CN: a DN of more than 64 is refused before it is audited.
ous=$(python3 -c "print('/'.join('OU=' + 'a' * 60 for _ in range(63)))")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout long.key \
    -subj "/CN=long/$ous" -outform DER -out long.der 2>/dev/null
openssl base64 -in long.der -out long.b64
status=$(curl -s -o long.p7 -w '%{http_code}' --cacert "$TA" --digest -u estuser:estpwd "${PK[@]}" \
    --data-binary @long.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "enrolment with a long subject gave $status"
[ "$(tail -n 1 $A | wc -c)" -gt 4096 ] || fail "the long subject's line is short: $(tail -n 1 $A)"
"$ESTADM" -c var/estd.conf audit verify > verify.out 2> verify.err ||
	fail "a subject of kilobytes broke the chain: $(cat verify.err)"
ok "a line cut at its bound keeps its chain (a subject of 4 KiB)"

# Enrolments at once share store groups, whose entries are written together
# (one write per group): every certificate still gets its own line, once,
# each with its own serial, and the chain verifies.
before=$(grep -c ' what=issue ' $A)
"$ESTKIT_BIN/estbench" --cacert "$TA" -u estuser:estpwd -c 16 -n 200 "https://127.0.0.1:$TLS_PORT" \
    > bench.out || fail "estbench: $(tail -n 3 bench.out)"
grep -q '"errors":{}' bench.out || fail "estbench: $(tail -n 1 bench.out)"
# Each of the 16 clients enrols once before estbench starts counting.
issued=$(( $(grep -o '"enrolments":[0-9]*' bench.out | cut -d: -f2) + 16 ))
after=$(grep -c ' what=issue ' $A)
[ $((after - before)) = "$issued" ] || fail "$issued enrolments, $((after - before)) audit lines"
[ "$(grep ' what=issue ' $A | grep -o ' serial=[0-9A-F:]*' | sort | uniq -d | wc -l)" = 0 ] ||
	fail "a serial is audited twice"
"$ESTADM" -c var/estd.conf audit verify > verify.out 2> verify.err ||
	fail "enrolments at once broke the chain: $(cat verify.err)"
ok "$issued enrolments at once: one audit line each, the chain verifies"

# --- JSON lines in a file --------------------------------------------------------
check_estd_exit
sed -i 's/^audit-log = audit.log/audit-log = audit.log\naccess-log = access.json\naccess-log-json = yes/' var/estd.conf
start_estd
status=$(curl -s -o dev3.p7 -w '%{http_code}' --cacert "$TA" --digest -u estuser:estpwd "${PK[@]}" \
    --data-binary @dev2.b64 "$EST/simpleenroll")
[ "$status" = 200 ] || fail "enrolment gave $status"
curl -s -o /dev/null --cacert "$TA" "$EST/cacerts"
python3 - var/access.json <<'PY' || fail "access.json: $(cat var/access.json)"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) >= 2, lines
keys = ["time", "peer", "listener", "alias", "op", "principal", "status", "ms", "auth", "serial"]
for l in lines:
    assert list(l)[:len(keys)] == keys, l
enrol = [l for l in lines if l["op"] == "simpleenroll" and l["status"] == "200"][0]
assert enrol["status"] == "200" and enrol["auth"] == "digest" and enrol["serial"] != "-", enrol
PY
! grep -q 'op=simpleenroll' <(tail -n 3 estd.log) || fail "access lines still go to the log with access-log set"
ok "access-log-json: one JSON object per line in the access-log file"
finish
