#!/usr/bin/env bash
# Releasing a certificate from hold (estadm cert unrevoke; RFC 5280 §5.3.1:
# a certificate revoked with certificateHold "may be released from hold"),
# with a real estd and real relying parties: on hold, openssl verify
# -crl_check refuses it, OCSP says revoked and it cannot renew (EST-S-52);
# released, estd serves a new CRL without it (higher number, later
# thisUpdate), crl-file follows, OCSP says good and it renews again
# (EST-S-50). Also when estadm cannot read the CA key and estd makes that
# CRL itself, as it does after a revocation. The attacker's and the
# mistaken administrator's side: a keyCompromise revocation, an unknown
# serial, a valid and an expired certificate are refused with one line,
# exit 1 and nothing written (the store's export, the CRL and the audit log
# stay as they were), and a released certificate can be revoked again. A
# hold is made final by revoking again with another reason (cert revoke, ee
# revoke), and is then never released.
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || exit 77
init_demo
sed -i 's/^\[server\]$/[server]\ncrl-check-interval = 1/' "$T/var/estd.conf"
start_estd
cd "$T"
ADM=("$ESTADM" -c "$T/var/estd.conf")
BASE="http://127.0.0.1:$HTTP_PORT"
CRL_URL="$BASE/crl/ManagementCA.crl"
FILE="$T/var/ManagementCA.crl"
PK=(-H 'Content-Type: application/pkcs10')

# soft CMD...: CMD's output (stderr too) whatever its exit status, for a grep
# after it (a refusing relying party must not fail the pipeline).
soft() { "$@" 2>&1 || true; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
fetch_crl() { curl -sf -o "$1.der" "$CRL_URL" && openssl crl -inform DER -in "$1.der" -out "$1.pem"; }
number_of() { printf "%d" "$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2)"; }
this_update() { date -d "$(openssl crl -inform DER -in "$1" -noout -lastupdate | cut -d= -f2)" +%s; }
lists() { openssl crl -inform DER -in "$1" -noout -text | tr -d ' ' | grep -qix "SerialNumber:$2"; }
verify() { soft openssl verify -crl_check -CAfile "$TA" -CRLfile "$1" "$2"; }
ocsp() { soft openssl ocsp -issuer "$TA" -cert "$1" -url "$BASE/ocsp" -CAfile "$TA"; }
# renew NAME: simplereenroll with NAME.pem over mutual TLS (same key); the HTTP status.
renew() {
	curl -s -o "$1-renew.p7" -w '%{http_code}' --cacert "$TA" --cert "$1.pem" --key "$1.key" \
		"${PK[@]}" --data-binary @"$1.b64" "$MEST/simplereenroll"
}
# file_follows SERIAL yes|no: wait up to 10 s (crl-check-interval 1) until crl-file lists SERIAL or not.
file_follows() {
	for _ in $(seq 100); do
		if lists "$FILE" "$1"; then [ "$2" = yes ] && return 0; else [ "$2" = no ] && return 0; fi
		sleep 0.1
	done
	return 1
}

enrol_demo alice
enrol_demo bob
enrol_demo carol
enrol_demo dave
sa=$(serial_of alice.pem)
sb=$(serial_of bob.pem)
sc=$(serial_of carol.pem)
sd=$(serial_of dave.pem)

# ---- on hold: revoked for every relying party --------------------------------
out=$("${ADM[@]}" cert revoke "$sa" --reason certificateHold)
grep_all "^revoked $sa (certificateHold)" <<<"$out" || fail "cert revoke said: $out"
fetch_crl held
lists held.der "$sa" || fail "the CRL does not list alice, on hold"
openssl crl -in held.pem -noout -text | grep_all 'Certificate Hold' || fail "the CRL entry has no reason certificateHold"
verify held.pem alice.pem | grep_all 'certificate revoked' || fail "openssl verify accepts alice on hold"
ocsp alice.pem | grep_all "alice.pem: revoked" || fail "OCSP does not say alice is revoked: $(ocsp alice.pem)"
ocsp alice.pem -resp_text | grep_all 'Reason: certificateHold' || fail "OCSP gives no reason certificateHold"
file_follows "$sa" yes || fail "crl-file does not list alice on hold"
[ "$(renew alice)" = 403 ] || fail "alice renewed while on hold: $(cat alice-renew.p7)"
"${ADM[@]}" cert list --serial "$sa" | grep_all "^$sa  held  " || fail "cert list: $("${ADM[@]}" cert list --serial "$sa")"
"${ADM[@]}" cert list --revoked | grep_all "^$sa  held  " || fail "cert list --revoked leaves alice on hold out"
"${ADM[@]}" cert show "$sa" | grep_all '^status: *held$' || fail "cert show: alice is not shown held"
ok "on hold: the CRL lists it (certificateHold), verify -crl_check and OCSP say revoked, no renewal (EST-S-52)"

# ---- released: estadm renews the CRL -----------------------------------------
n1=$(number_of held.der)
t1=$(this_update held.der)
out=$("${ADM[@]}" cert unrevoke "$sa")
grep_all "^released $sa from hold: valid again$" <<<"$out" || fail "cert unrevoke said: $out"
grep_all "^CRL number [0-9]* of CA ManagementCA no longer lists it; written to " <<<"$out" \
	|| fail "cert unrevoke did not renew the CRL: $out"
"${ADM[@]}" cert show "$sa" | grep_all '^status: *valid$' || fail "cert show: alice is not valid"
"${ADM[@]}" cert show "$sa" | grep_all '^reason:' && fail "cert show still gives a revocation reason"
fetch_crl released
lists released.der "$sa" && fail "estd's CRL still lists alice after the release"
n2=$(number_of released.der)
t2=$(this_update released.der)
[ "$n2" -gt "$n1" ] || fail "the CRL number did not grow: $n1 then $n2"
[ "$t2" -gt "$t1" ] || fail "thisUpdate did not move on: $t1 then $t2"
verify released.pem alice.pem | grep_all 'alice.pem: OK' || fail "openssl verify: $(verify released.pem alice.pem)"
ocsp alice.pem | grep_all "alice.pem: good" || fail "OCSP after the release: $(ocsp alice.pem)"
lists "$FILE" "$sa" && fail "crl-file still lists alice after the release"
[ "$(number_of "$FILE")" = "$n2" ] || fail "crl-file holds CRL $(number_of "$FILE"), estd serves $n2"
ok "released: estd's CRL $n2 (after $n1, later thisUpdate) and crl-file leave it out; verify OK, OCSP good"
[ "$(renew alice)" = 200 ] || fail "alice does not renew after the release: $(cat alice-renew.p7)"
p7_to_pem alice-renew.p7 alice2.pem
[ "$(serial_of alice2.pem)" != "$sa" ] || fail "the renewal returned the old certificate"
ok "a released certificate renews again (EST-S-50)"
grep_all "what=\"\?cert unrevoke\"\? args=\"\?$sa\"\?" var/audit.log \
	|| fail "the release is not in the audit log: $(tail -n 3 var/audit.log)"
"${ADM[@]}" audit verify >/dev/null || fail "the audit chain does not verify"
ok "the release is in the audit log, as a revocation is"

# ---- released while estadm cannot sign: estd makes the CRL ------------------
"${ADM[@]}" cert revoke "$sd" --reason certificateHold >/dev/null
file_follows "$sd" yes || fail "crl-file does not list dave on hold"
fetch_crl dheld
sed 's/^key = ca.key$/key = nowhere.key/' var/estd.conf > var/nokey.conf
grep_all '^key = nowhere.key' var/nokey.conf || fail "could not hide the CA key"
out=$("$ESTADM" -c var/nokey.conf cert unrevoke "$sd" 2>err.txt) || fail "cert unrevoke without the CA key failed: $(cat err.txt)"
grep_all 'was not renewed now; estd renews it' err.txt || fail "estadm did not say estd renews the CRL: $(cat err.txt)"
fetch_crl dreleased
lists dreleased.der "$sd" && fail "estd serves a CRL listing dave after his release"
[ "$(number_of dreleased.der)" -gt "$(number_of dheld.der)" ] || fail "estd did not make a new CRL"
file_follows "$sd" no || fail "crl-file still lists dave after the release (estd's keeper)"
ocsp dave.pem | grep_all "dave.pem: good" || fail "OCSP after dave's release: $(ocsp dave.pem)"
ok "a release estadm cannot sign the CRL for reaches estd's CRL and crl-file, as a revocation does"
"${ADM[@]}" cert revoke "$sd" --reason keyCompromise | grep_all "^revoked $sd (keyCompromise)" \
	|| fail "a released certificate cannot be revoked again"
fetch_crl drevoked
lists drevoked.der "$sd" || fail "the CRL does not list dave, revoked again"
ocsp dave.pem -resp_text | grep_all 'Reason: keyCompromise' || fail "OCSP: dave not revoked again"
ok "a released certificate can be revoked again"

# ---- a hold made final: never released ----------------------------------------
# The key of a held certificate turns out compromised: revoking it again with the
# final reason must not need a release first (that would publish a CRL without it).
enrol_demo eve
se=$(serial_of eve.pem)
"${ADM[@]}" cert revoke "$se" --reason certificateHold >/dev/null
fetch_crl ehold
"${ADM[@]}" cert revoke "$se" --reason keyCompromise | grep_all "^revoked $se (keyCompromise)" \
	|| fail "a certificate on hold cannot be revoked for good"
fetch_crl efinal
[ "$(number_of efinal.der)" -gt "$(number_of ehold.der)" ] || fail "no new CRL for the final reason"
openssl crl -in efinal.pem -noout -text | grep -A5 -i "Serial Number: *$se" | grep_all 'Key Compromise' \
	|| fail "the CRL entry of eve does not say keyCompromise"
ocsp eve.pem -resp_text | grep_all 'Reason: keyCompromise' || fail "OCSP: eve not keyCompromise"
rc=0; "${ADM[@]}" cert unrevoke "$se" 2>err.txt || rc=$?
[ $rc = 1 ] && grep_all 'is revoked (keyCompromise), not on hold' err.txt || fail "a hold made final was released: $rc $(cat err.txt)"
# ee revoke with a final reason takes the end entity's held certificates too.
"${ADM[@]}" ee add --username frank --dn "CN=frank" --alias est --password - <<< frankcode1 >/dev/null
code_csr frank frank frankcode1
[ "$(post_csr simpleenroll frank.b64 frank.p7 "$EST/simpleenroll")" = 200 ] || fail "frank's enrolment: $(cat frank.p7)"
p7_to_pem frank.p7 frank.pem
sf=$(serial_of frank.pem)
"${ADM[@]}" cert revoke "$sf" --reason certificateHold >/dev/null
"${ADM[@]}" ee revoke frank --reason keyCompromise | grep_all "^revoked $sf (keyCompromise)" \
	|| fail "ee revoke left frank's held certificate releasable"
"${ADM[@]}" cert show "$sf" | grep_all '^reason: *keyCompromise' || fail "frank's certificate is not keyCompromise"
"${ADM[@]}" cert list --serial "$sf" | grep_all "^$sf  revoked  " || fail "cert list: frank's certificate is not shown revoked"
"${ADM[@]}" ee revoke frank | grep_all 'has no valid certificate on record, nor one on hold' \
	|| fail "ee revoke found something left to revoke of frank"
ok "a hold is made final by revoking again (cert revoke, ee revoke): new CRL entry keyCompromise, no release"

# ---- refused, nothing written --------------------------------------------------
"${ADM[@]}" cert revoke "$sb" --reason keyCompromise >/dev/null
# An expired certificate keeps its hold: grace's notAfter is moved into the past in the store.
enrol_demo grace
sg=$(serial_of grace.pem)
"${ADM[@]}" cert revoke "$sg" --reason certificateHold >/dev/null
expire="UPDATE certs SET not_after = 1000000000 WHERE serial = '$(sed 's/^0*//' <<<"$sg")'"
if [ "${ESTKIT_TEST_STORE:-sqlite}" = postgresql ]; then
	psql_su "$expire" estkit >/dev/null
else
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' \
		var/estkit.db "$expire"
fi
fetch_crl before
"${ADM[@]}" db export > before.jsonl
audit_lines=$(wc -l < var/audit.log)
# refused WHAT SERIAL PATTERN: unrevoke exits 1 with one line matching PATTERN.
refused() {
	local rc=0
	"${ADM[@]}" cert unrevoke "$2" > out.txt 2> err.txt || rc=$?
	[ $rc = 1 ] || fail "$1: exit $rc: $(cat out.txt err.txt)"
	[ "$(wc -l < err.txt)" = 1 ] && [ ! -s out.txt ] || fail "$1: not one line: $(cat out.txt err.txt)"
	grep_all -- "$3" err.txt || fail "$1: $(cat err.txt)"
}
refused "a keyCompromise revocation" "$sb" "^estadm: certificate .* is revoked (keyCompromise), not on hold"
refused "an unknown serial" 7FFFFFFFFFFFFFFF "^estadm: no certificate 7FFFFFFFFFFFFFFF"
refused "a valid certificate" "$sc" "^estadm: certificate .* is not revoked"
refused "an expired certificate" "$sg" "^estadm: certificate .* has expired: its hold stays on record"
[ "$(wc -l < var/audit.log)" = "$audit_lines" ] || fail "a refused release was audited: $(tail -n 2 var/audit.log)"
"${ADM[@]}" db export > after.jsonl
cmp -s before.jsonl after.jsonl || fail "a refused release changed the store: $(diff before.jsonl after.jsonl | head -5)"
fetch_crl after
cmp -s before.der after.der || fail "a refused release made a new CRL"
lists after.der "$sb" || fail "the CRL no longer lists bob (keyCompromise)"
lists after.der "$sg" || fail "the CRL no longer lists grace (expired, on hold)"
verify after.pem bob.pem | grep_all 'certificate revoked' || fail "openssl verify accepts bob"
ocsp bob.pem | grep_all "bob.pem: revoked" || fail "OCSP does not say bob is revoked"
ok "releasing keyCompromise, an unknown serial, a valid or an expired certificate: one line, exit 1, nothing written, bob stays on the CRL"

finish
