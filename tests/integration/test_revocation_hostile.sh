#!/usr/bin/env bash
# Revocation as an attacker and a demanding relying party try it: a
# certificate renewed by many /simplereenroll at once (revoke-replaced),
# revocation reasons a relying party would misread, and estadm fed odd input.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || exit 77
cd "$T"
init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
sed -i '/^renew-same-key = yes$/a revoke-replaced = yes' var/estd.conf
start_estd
CRL_URL="http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl"
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//'; }

# ---- one certificate, many renewals at once (EST-S-50, revoke-replaced) ----
enrol_demo dev
# Every connection is set up and its request sent but for the last byte, then
# all last bytes go at once: every renewal is authenticated before any commits.
python3 - "$MTLS_PORT" > race.out <<'PY'
import socket, ssl, sys, threading
port = int(sys.argv[1])
body = open("dev.b64", "rb").read()
req = (b"POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       b"Content-Type: application/pkcs10\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
       % len(body)) + body
ctx = ssl.create_default_context(cafile="var/ca.pem")
ctx.check_hostname = False
ctx.load_cert_chain("dev.pem", "dev.key")
conns = []
for _ in range(12):
    c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    c.sendall(req[:-1])
    conns.append(c)
go = threading.Barrier(len(conns))
def last(c):
    go.wait()
    c.sendall(req[-1:])
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    print(data.split(b" ", 2)[1].decode())
ts = [threading.Thread(target=last, args=(c,)) for c in conns]
for t in ts:
    t.start()
for t in ts:
    t.join()
PY
wins=$(grep -c '^200$' race.out || true)
[ "$wins" -le 1 ] || fail "$wins parallel renewals of one certificate succeeded (revoke-replaced)"
valid=$("${ADM[@]}" cert list | awk '$2=="valid" && $4=="CN=dev"' | wc -l)
[ "$valid" = 1 ] || fail "one certificate renewed in parallel left $valid valid certificates"
"${ADM[@]}" cert show "$(serial_of dev.pem)" | grep_all 'status: *revoked' \
	|| fail "the renewed certificate is not revoked"
ok "parallel renewals of one certificate: one wins, one valid certificate remains (revoke-replaced)"

# ---- reasons a relying party would misread (RFC 5280 §5.3.1) ----
enrol_demo held
enrol_demo gone
rc=0; "${ADM[@]}" cert revoke "$(serial_of gone.pem)" --reason removeFromCRL > rfc.out 2>&1 || rc=$?
[ $rc = 2 ] && grep_all 'delta CRLs only' rfc.out || fail "revoke --reason removeFromCRL: exit $rc: $(cat rfc.out)"
rc=0; "${ADM[@]}" ee revoke nobody --reason removeFromCRL > rfc.out 2>&1 || rc=$?
[ $rc = 2 ] && grep_all 'delta CRLs only' rfc.out || fail "ee revoke --reason removeFromCRL: exit $rc"
"${ADM[@]}" cert show "$(serial_of gone.pem)" | grep_all 'status: *valid' \
	|| fail "a refused revocation changed the certificate"
ok "estadm refuses removeFromCRL as a reason (a CRL entry with it reads as not revoked)"
# --issuer as openssl prints it ("CN = x") is not the store's form: say which is.
ossl_issuer=$(openssl x509 -in gone.pem -noout -issuer | sed 's/^issuer=//')
rc=0; "${ADM[@]}" cert revoke "$(serial_of gone.pem)" --issuer "$ossl_issuer" > iss.out 2>&1 || rc=$?
store_issuer=$("${ADM[@]}" cert show "$(serial_of gone.pem)" | sed -n 's/^issuer: *//p')
[ $rc = 1 ] && grep_all -F -- "--issuer \"$store_issuer\"" iss.out \
	|| fail "cert revoke --issuer in openssl's form: exit $rc: $(cat iss.out)"
"${ADM[@]}" cert revoke "$(serial_of gone.pem)" --issuer "$store_issuer" --reason keyCompromise > /dev/null \
	|| fail "cert revoke with --issuer as cert show prints it"
ok "cert revoke --issuer in another form says how the issuer is written; in that form it revokes"
"${ADM[@]}" cert revoke "$(serial_of held.pem)" --reason certificateHold > /dev/null
curl -sf "$CRL_URL" | openssl crl -inform DER -out crl.pem
for c in gone held; do
	rc=0; openssl verify -crl_check -CAfile "$TA" -CRLfile crl.pem "$c.pem" > v.out 2>&1 || rc=$?
	[ $rc != 0 ] && grep_all 'certificate revoked' v.out || fail "openssl verify -crl_check accepts $c: $(cat v.out)"
done
ok "keyCompromise and certificateHold: openssl verify -crl_check refuses both"

# ---- a CA certificate without cRLSign (RFC 5280 §4.2.1.3) ----
# Its CRLs fail every relying party ("key usage does not include CRL signing"),
# so certificates pointing at them fail too: refused at start-up, said why.
mkdir nocrl
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout nocrl/ca.key \
	-out nocrl/ca.pem -subj "/CN=No cRLSign CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" -addext "subjectKeyIdentifier=hash" 2>/dev/null
sed -e "s|^certificate = ca.pem$|certificate = $T/nocrl/ca.pem|" -e "s|^key = ca.key$|key = $T/nocrl/ca.key|" \
	-e "s|^\[ca ManagementCA\]$|[ca ManagementCA]\ncrl-url = http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl|" \
	var/estd.conf > var/nocrl.conf
grep_all "nocrl/ca.pem" var/nocrl.conf || fail "the test's configuration does not name the CA"
rc=0; "$ESTD" -n -c var/nocrl.conf > nocrl.out 2>&1 || rc=$?
[ $rc != 0 ] && grep_all 'lacks cRLSign' nocrl.out || fail "estd takes crl-url for a CA without cRLSign: $(cat nocrl.out)"
ok "crl-url for a CA certificate without cRLSign is refused at start-up"

# ---- estadm making keys: a refused run leaves nothing that blocks the next ----
touch taken.pem
rc=0; "${ADM[@]}" ca ocsp-responder ManagementCA --cert taken.pem --key resp.key > resp.out 2>&1 || rc=$?
[ $rc = 1 ] && grep_all 'already exists' resp.out || fail "ocsp-responder onto an existing file: exit $rc"
[ ! -e resp.key ] || fail "a refused ca ocsp-responder left its private key behind"
"${ADM[@]}" ca ocsp-responder ManagementCA --cert resp.pem --key resp.key > /dev/null \
	|| fail "ca ocsp-responder after a refused run"
ok "a refused ca ocsp-responder leaves no key behind; the next run works"
touch ra1.pem
before=$("${ADM[@]}" cert list | wc -l)
rc=0; "${ADM[@]}" cert ra --dn "CN=ra1,O=ACME" --out ra1 > ra.out 2>&1 || rc=$?
[ $rc = 1 ] && grep_all 'already exists' ra.out || fail "cert ra onto an existing file: exit $rc"
[ ! -e ra1.key ] || fail "a refused cert ra left its private key behind"
[ "$("${ADM[@]}" cert list | wc -l)" = "$before" ] || fail "a refused cert ra recorded an RA certificate nobody holds"
rm ra1.pem
"${ADM[@]}" cert ra --dn "CN=ra1,O=ACME" --out ra1 > /dev/null || fail "cert ra after a refused run"
ok "a refused cert ra records no RA certificate and leaves no key; the next run works"

# ---- an export edited by hand (or from another system) is checked on import ----
# A revoked certificate whose serial is spelt otherwise than the look-ups
# spell it would be answered "unknown" by OCSP; an unreadable one would stop
# its CA's CRL. Each record must match its DER.
"${ADM[@]}" db export > export.jsonl
python3 - export.jsonl > edited.jsonl <<'PY'
import json, sys
done = False
for line in open(sys.argv[1]):
    o = json.loads(line)
    if not done and o.get("type") == "certificate" and o.get("status") == "revoked":
        o["serial"] = "0" + o["serial"].lower()
        done = True
    print(json.dumps(o, sort_keys=True))
assert done
PY
sed "s|^store = .*|store = sqlite:$T/imported.db|" var/estd.conf > var/import.conf
"$ESTADM" -c var/import.conf db create > /dev/null
rc=0; "$ESTADM" -c var/import.conf db import edited.jsonl > imp.out 2>&1 || rc=$?
[ $rc != 0 ] && grep_all 'not that of its DER' imp.out || fail "db import took a certificate whose serial is not its DER's: exit $rc: $(cat imp.out)"
# One transaction: the records before the bad one are not left behind, and
# the import can be run again on the same store.
[ "$("$ESTADM" -c var/import.conf db export | wc -l)" = 1 ] \
    || fail "the refused import left records behind: $("$ESTADM" -c var/import.conf db export | head -3)"
"$ESTADM" -c var/import.conf db import export.jsonl > /dev/null || fail "db import of an unedited export"
"$ESTADM" -c var/import.conf db export | cmp -s - export.jsonl || fail "the imported store differs from the export"
ok "db import refuses a certificate record whose serial is not its DER's, leaves nothing behind; an unedited export imports"

# ---- ca rollover with the CA's name also in the URLs' host ----
"$ESTADM" init "$T/roll" --http-port 0 --tls-port 0 --mtls-port 0 > /dev/null
sed -i 's|^key = ca.key$|key = ca.key\ncrl-url = http://ManagementCA.example/crl/ManagementCA.crl\nca-issuers-url = http://ManagementCA.example/crl/ManagementCA.crt|' \
	roll/estd.conf
rc=0; "$ESTADM" -c roll/estd.conf ca rollover ManagementCA --issue-from 2027-02-30T00:00:00Z > bad.out 2>&1 || rc=$?
[ $rc = 2 ] && [ ! -e roll/ManagementCA-2.key ] || fail "ca rollover took February 30: exit $rc: $(cat bad.out)"
ok "ca rollover refuses an issue-from date that does not exist"
"$ESTADM" -c roll/estd.conf ca rollover ManagementCA > /dev/null || fail "ca rollover"
grep_all -x 'crl-url = http://ManagementCA.example/crl/ManagementCA-2.crl' roll/estd.conf \
	&& grep_all -x 'ca-issuers-url = http://ManagementCA.example/crl/ManagementCA-2.crt' roll/estd.conf \
	|| fail "ca rollover renamed the wrong part of the URLs: $(grep -E '^(crl-url|ca-issuers-url)' roll/estd.conf)"
ok "ca rollover renames the URLs' file name, not a host that holds the CA's name"

# ---- crl-file naming a file estd reads: it would be replaced by a CRL ----
cp var/ca.pem ca-before.pem
sed 's|^crl-file = .*$|crl-file = ca.pem|; s|^\[ca ManagementCA\]$|[ca ManagementCA]\ncrl-file = ca.pem|' \
	var/estd.conf | awk '!/^crl-file/ || !seen++' > var/crlfile.conf
grep_all -x 'crl-file = ca.pem' var/crlfile.conf || fail "the test's configuration has no crl-file = ca.pem"
rc=0; "$ESTD" -n -c var/crlfile.conf > crlfile.out 2>&1 || rc=$?
[ $rc != 0 ] && grep_all 'crl-file = .*ca.pem is a file estd reads' crlfile.out \
	|| fail "estd takes crl-file = ca.pem: $(cat crlfile.out)"
cmp -s var/ca.pem ca-before.pem || fail "the CA certificate was overwritten"
ok "crl-file naming the CA certificate is refused, the certificate left alone"

finish
