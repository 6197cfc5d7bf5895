#!/usr/bin/env bash
# Revocation that relying parties see (issue 15): estd's CRL
# (<crl-path>/NAME.crl, DER, ETag/Last-Modified, conditional GET, crl-file)
# and OCSP responder (POST and GET, good/revoked/unknown, nonce, signed by
# the CA or a delegated responder, malformedRequest), checked with real
# relying parties: openssl verify -crl_check, openssl ocsp, openssl s_server
# -crl_check. Issued certificates carry CDP and AIA; a revocation recorded
# by another path than estadm (as revoke-replaced does) reaches the CRL;
# the CRL number only grows, also across a restart.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || exit 77
cd "$T"
ADM=("$ESTADM" -c "$T/var/estd.conf")

# A fixed plain-HTTP port, so the URLs init writes into certificates are true.
HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$ESTADM" init "$T/var" --http-port "$HP" --tls-port 0 --mtls-port 0 >/dev/null
TA="$T/var/ca.pem"
sed -i 's/^\[server\]$/[server]\ncrl-check-interval = 1/' "$T/var/estd.conf"
"$ESTD" -c "$T/var/estd.conf" -n >/dev/null 2>&1 || fail "estd -n refuses the configuration"
[ ! -e "$T/var/ManagementCA.crl" ] || fail "estd -n wrote the CRL file"
start_estd
for _ in $(seq 50); do [ -s "$T/var/ManagementCA.crl" ] && break; sleep 0.1; done
[ -s "$T/var/ManagementCA.crl" ] || fail "estd did not write crl-file when it started serving"
ok "estd -n only checks; a serving estd writes crl-file at once"
BASE="http://127.0.0.1:$HP"
CRL_URL="$BASE/crl/ManagementCA.crl"

# soft CMD...: CMD's output (stderr too) whatever its exit status, for a grep
# after it (under pipefail a refusing relying party would fail the pipeline).
soft() { "$@" 2>&1 || true; }
# The serial as estd records it (est_serial_text: no leading zeros).
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
fetch_crl() { curl -sf -o "$T/$1.der" "$CRL_URL" && openssl crl -inform DER -in "$T/$1.der" -out "$T/$1.pem"; }
crl_number() { printf '%d' "$(openssl crl -in "$1" -noout -crlnumber | cut -d= -f2)"; }
# ocsp CERT [args]: openssl ocsp against the URL in the certificate, verifying
# the response signature up to ca.pem.
ocsp() {
	local cert=$1; shift
	soft openssl ocsp -issuer "$TA" -cert "$cert" -url "$(openssl x509 -in "$cert" -noout -ocsp_uri)" \
		-CAfile "$TA" -resp_text "$@"
}

# ---- certificates say where to look (point 3) --------------------------------
enrol_demo alice
enrol_demo bob
enrol_demo carol
for c in alice.pem var/tls.pem; do
	ext=$(openssl x509 -in "$c" -noout -ext crlDistributionPoints,authorityInfoAccess)
	grep_all "URI:$CRL_URL" <<<"$ext" || fail "$c has no CRL distribution point: $ext"
	grep_all "OCSP - URI:$BASE/ocsp" <<<"$ext" || fail "$c has no AIA OCSP: $ext"
	grep_all "CA Issuers - URI:$BASE/crl/ManagementCA.crt" <<<"$ext" || fail "$c has no AIA caIssuers"
done
ok "issued certificates and estd's own carry CDP and AIA (OCSP, caIssuers) of the plain listener"
curl -sf -o ca.der "$(openssl x509 -in alice.pem -noout -text | sed -n 's/.*CA Issuers - URI://p')"
[ "$(openssl x509 -inform DER -in ca.der -noout -fingerprint)" = \
  "$(openssl x509 -in "$TA" -noout -fingerprint)" ] || fail "caIssuers URL does not give the CA"
ok "the caIssuers URL serves the CA certificate (DER)"

# ---- CRL over plain HTTP (point 1) -------------------------------------------
curl -s -D hdr -o crl0.der "$CRL_URL"
grep_all -i '^Content-Type: application/pkix-crl' hdr || fail "CRL media type: $(cat hdr)"
etag=$(sed -n 's/^ETag: *//Ip' hdr | tr -d '\r')
lm=$(sed -n 's/^Last-Modified: *//Ip' hdr | tr -d '\r')
[ -n "$etag" ] && [ -n "$lm" ] || fail "CRL without ETag or Last-Modified"
openssl crl -inform DER -in crl0.der -CAfile "$TA" -noout 2>&1 | grep_all 'verify OK' || fail "CRL signature"
text=$(openssl crl -inform DER -in crl0.der -noout -text)
grep_all 'X509v3 CRL Number' <<<"$text" || fail "CRL without a number"
grep_all 'X509v3 Authority Key Identifier' <<<"$text" || fail "CRL without AKI"
grep_all 'Next Update' <<<"$text" || fail "CRL without nextUpdate"
ok "CRL: DER application/pkix-crl, signed by the CA, CRL number, AKI, nextUpdate"
expect_status 304 "CRL with a matching If-None-Match" "$CRL_URL" -H "If-None-Match: $etag"
expect_status 304 "CRL with If-Modified-Since = Last-Modified" "$CRL_URL" -H "If-Modified-Since: $lm"
expect_status 200 "CRL with another ETag" "$CRL_URL" -H 'If-None-Match: "crl-0"'
expect_status 404 "CRL of an unknown CA" "$BASE/crl/Nobody.crl"
expect_status 405 "POST to a CRL" "$CRL_URL" -d x
fetch_crl c1
openssl verify -crl_check -CAfile "$TA" -CRLfile c1.pem alice.pem >/dev/null 2>&1 \
	|| fail "openssl verify -crl_check refuses a good certificate"
ok "openssl verify -crl_check with estd's CRL accepts a good certificate"

# ---- OCSP good (point 2) ------------------------------------------------------
out=$(ocsp alice.pem)
grep_all 'Response verify OK' <<<"$out" || fail "OCSP response does not verify: $out"
grep_all 'Cert Status: good' <<<"$out" || fail "alice not good: $out"
grep_all 'OCSP Nonce' <<<"$out" || fail "nonce not echoed: $out"
ok "openssl ocsp: good, nonce echoed, signature verifies up to ca.pem"
openssl ocsp -issuer "$TA" -cert bob.pem -no_nonce -reqout bob.req >/dev/null 2>&1
b64=$(openssl base64 -A < bob.req | python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')
curl -s -D hdr -o get.resp "$BASE/ocsp/$b64"
grep_all -i '^Content-Type: application/ocsp-response' hdr || fail "OCSP GET media type"
soft openssl ocsp -respin get.resp -issuer "$TA" -cert bob.pem -CAfile "$TA" -resp_text \
	| grep_all 'Cert Status: good' || fail "OCSP GET of bob not good"
ok "OCSP over GET (RFC 6960 A.1): good"

# ---- revoke with estadm: CRL and OCSP follow at once (points 1, 2, 4) --------
n1=$(crl_number c1.pem)
"${ADM[@]}" cert revoke "$(serial_of alice.pem)" --reason keyCompromise > rev.out
grep_all 'CRL number' rev.out || fail "cert revoke did not renew the CRL: $(cat rev.out)"
out=$(ocsp alice.pem)
grep_all 'Response verify OK' <<<"$out" || fail "revoked response does not verify"
grep_all 'Cert Status: revoked' <<<"$out" || fail "alice not revoked over OCSP: $out"
grep_all 'Revocation Time' <<<"$out" || fail "no revocation time: $out"
grep_all 'Reason: keyCompromise' <<<"$out" || fail "no reason: $out"
ok "openssl ocsp: revoked (time, keyCompromise) right after estadm cert revoke"
curl -s -D hdr2 -o /dev/null "$CRL_URL"
lm2=$(sed -n 's/^Last-Modified: *//Ip' hdr2 | tr -d '\r')
fetch_crl c2
n2=$(crl_number c2.pem)
[ $n2 -gt $n1 ] || fail "CRL number did not grow ($n1 -> $n2)"
soft openssl verify -crl_check -CAfile "$TA" -CRLfile c2.pem alice.pem | grep_all 'certificate revoked' \
	|| fail "openssl verify -crl_check accepts the revoked certificate"
openssl verify -crl_check -CAfile "$TA" -CRLfile c2.pem bob.pem >/dev/null 2>&1 \
	|| fail "openssl verify refuses bob after alice's revocation"
openssl crl -in c2.pem -noout -text | grep_all 'Key Compromise' || fail "CRL lacks the reason code"
expect_status 200 "the old ETag no longer matches" "$CRL_URL" -H "If-None-Match: $etag"
ok "CRL (fetched with curl) refuses the revoked certificate, accepts the good one, reason code"
cmp -s var/ManagementCA.crl c2.der || fail "crl-file is not the CRL estd serves"
ok "crl-file holds the current CRL"
"${ADM[@]}" cert list --revoked > revoked.txt
grep_all "$(serial_of alice.pem)" revoked.txt || fail "cert list --revoked misses alice"
! grep_all "$(serial_of bob.pem)" revoked.txt || fail "cert list --revoked shows bob"
ok "estadm cert list --revoked"

# ---- a revocation recorded by another path (revoke-replaced) ------------------
# The store keeps serials without the leading zero openssl prints.
python3 - "$T/var/estkit.db" "$(serial_of bob.pem | sed "s/^0*//")" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE certs SET status='revoked', revoked_at=?, revocation_reason=4 WHERE serial=?",
           (int(time.time()), sys.argv[2]))
db.commit()
PY
# Two CRLs never share a Last-Modified: If-Modified-Since cannot hide this one.
expect_status 200 "If-Modified-Since of the CRL before a revocation" "$CRL_URL" -H "If-Modified-Since: $lm2"
fetch_crl c3
openssl crl -in c3.pem -noout -text | grep_all "$(serial_of bob.pem)" \
	|| fail "a revocation written to the store is not on the next CRL"
openssl crl -in c3.pem -noout -text | grep_all 'Superseded' || fail "superseded reason missing"
for _ in $(seq 50); do cmp -s var/ManagementCA.crl c3.der && break; sleep 0.1; done
openssl crl -inform DER -in var/ManagementCA.crl -noout -text | grep_all "$(serial_of bob.pem)" \
	|| fail "crl-file did not follow a revocation estd did not make"
ok "a revocation recorded in the store by any path reaches the CRL and crl-file"

# ---- s_server -crl_check refuses a revoked client (point 5) -------------------
fetch_crl c4
# s_server_try CERT: openssl s_server -crl_check (-www: it answers a GET with
# a status page once the client is accepted) for one client with CERT.
s_server_try() {
	# Made empty here: the background job opens it later, and sed must find it.
	: > srv.out
	openssl s_server -www -accept 127.0.0.1:0 -naccept 1 -cert var/tls.pem -key var/tls.key \
		-CAfile "$TA" -Verify 1 -verify_return_error -crl_check -CRL c4.pem > srv.out 2>&1 &
	local pid=$! port=
	for _ in $(seq 50); do
		port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' srv.out)
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || fail "s_server did not start: $(cat srv.out)"
	printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" -cert "$1" \
		-key "${1%.pem}.key" -CAfile "$TA" -ign_eof > cli.out 2>&1 || true
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
s_server_try alice.pem
grep_all 'certificate revoked' srv.out || fail "s_server did not find alice revoked: $(cat srv.out)"
! grep_all 'HTTP/1.0 200' cli.out || fail "s_server served the revoked client"
s_server_try carol.pem
! grep_all 'verify error' srv.out || fail "s_server refused the good client: $(cat srv.out)"
grep_all 'HTTP/1.0 200' cli.out || fail "s_server did not serve the good client: $(tail -5 cli.out)"
ok "openssl s_server -crl_check -CRL refuses the revoked client, accepts a good one"

# ---- OCSP: unknown, unauthorized, malformed (attacker's side) ----------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
	-subj /CN=Other -days 1 -out other.pem 2>/dev/null
openssl x509 -in carol.pem -noout -serial > /dev/null
# A serial the CA never issued, under its own name and key: unknown.
soft openssl ocsp -issuer "$TA" -serial 0x1234 -url "$BASE/ocsp" -CAfile "$TA" -resp_text \
	| grep_all 'Cert Status: unknown' || fail "a serial never issued is not unknown"
soft openssl ocsp -issuer other.pem -cert other.pem -url "$BASE/ocsp" -noverify -resp_text \
	| grep_all -i 'unauthorized' || fail "another CA's certificate is not unauthorized"
ok "OCSP: unknown for a serial never issued, unauthorized for another CA"
for body in "" "garbage" "$(head -c 40 bob.req)"; do
	printf '%s' "$body" > bad.req
	curl -s -o bad.resp -H 'Content-Type: application/ocsp-request' --data-binary @bad.req "$BASE/ocsp"
	soft openssl ocsp -respin bad.resp -noverify -resp_text | grep_all -i 'malformedrequest' \
		|| fail "malformed POST (${#body} bytes) not answered malformedRequest"
done
{ cat bob.req; printf 'x'; } > trail.req
curl -s -o bad.resp -H 'Content-Type: application/ocsp-request' --data-binary @trail.req "$BASE/ocsp"
soft openssl ocsp -respin bad.resp -noverify -resp_text | grep_all -i 'malformedrequest' \
	|| fail "a request with trailing data is not malformed"
for tail in '%zz' 'not-base64!' "$(printf 'A%.0s' $(seq 4000))" "$(head -c 30 bob.req | base64 -w0)"; do
	curl -s -o bad.resp "$BASE/ocsp/$tail"
	soft openssl ocsp -respin bad.resp -noverify -resp_text | grep_all -i 'malformedrequest' \
		|| fail "malformed GET (${tail:0:20}) not answered malformedRequest"
done
expect_status 431 "an OCSP GET longer than the request head limit" "$BASE/ocsp/$(printf 'A%.0s' $(seq 9000))"
expect_status 405 "PUT to the OCSP responder" "$BASE/ocsp" -X PUT
ok "malformed OCSP requests (POST and GET) answered malformedRequest; 405 for other methods"

# ---- delegated responder (point 2) --------------------------------------------
# As docs/revocation.md runs it, from the configuration's parent directory;
# the lines estadm prints are pasted into the configuration as they are
# (they once named var/ocsp.pem, which estd reads as var/var/ocsp.pem).
(cd "$T" && "$ESTADM" -c var/estd.conf ca ocsp-responder ManagementCA --cert var/ocsp.pem --key var/ocsp.key) > resp.out
openssl x509 -in var/ocsp.pem -noout -text | grep_all 'OCSP Signing' || fail "responder lacks the EKU"
openssl x509 -in var/ocsp.pem -noout -text | grep_all 'OCSP No Check' || fail "responder lacks ocsp-nocheck"
sed -n 's/^  \(ocsp-certificate\|ocsp-key\) = /\1 = /p' resp.out > resp.lines
[ "$(cat resp.lines)" = "$(printf 'ocsp-certificate = ocsp.pem\nocsp-key = ocsp.key')" ] ||
	fail "ca ocsp-responder prints lines that estd would not read as the files it wrote: $(cat resp.out)"
sed -i '/^key = ca.key$/r resp.lines' var/estd.conf
check_estd_exit
start_estd
out=$(ocsp carol.pem)
grep_all 'Response verify OK' <<<"$out" || fail "delegated response does not verify: $out"
grep_all 'Cert Status: good' <<<"$out" || fail "carol not good via the delegated responder"
grep_all 'Subject: CN *= *ManagementCA OCSP responder' <<<"$out" || fail "response not signed by the delegated responder: $out"
ok "a delegated responder (id-kp-OCSPSigning, ocsp-nocheck, from estadm) signs, and verifies"
# A responder certificate without id-kp-OCSPSigning is refused at start-up.
check_estd_exit
sed -i 's/^ocsp-certificate = ocsp.pem$/ocsp-certificate = tls.pem/; s/^ocsp-key = ocsp.key$/ocsp-key = tls.key/' var/estd.conf
! "$ESTD" -c var/estd.conf --ready-file "$T/ready2" >bad.log 2>&1 || fail "estd started with a non-OCSP responder"
grep_all 'lacks extendedKeyUsage OCSPSigning' bad.log || fail "no reason for the refused responder: $(cat bad.log)"
sed -i 's/^ocsp-certificate = tls.pem$/ocsp-certificate = ocsp.pem/; s/^ocsp-key = tls.key$/ocsp-key = ocsp.key/' var/estd.conf
start_estd
ok "estd refuses a delegated responder certificate without id-kp-OCSPSigning"

# ---- the CRL number only grows, also across a restart (point 1, 5) ----------
fetch_crl c5
n5=$(crl_number c5.pem)
check_estd_exit
start_estd
fetch_crl c6
[ $(crl_number c6.pem) -ge $n5 ] || fail "CRL number went back after a restart"
"${ADM[@]}" crl generate > gen.out
fetch_crl c7
n7=$(crl_number c7.pem)
[ $n7 -gt $n5 ] || fail "crl generate after a restart did not grow the number ($n5 -> $n7)"
"${ADM[@]}" crl show | grep_all "crl number: *$n7\$" || fail "crl show does not show number $n7"
ok "CRL number monotonic across a restart; estadm crl generate and show"

# ---- ee revoke (point 4) -------------------------------------------------------
"${ADM[@]}" ee add --username dave --dn "CN=dave" --alias est --password - <<< davecode1 >/dev/null
code_csr dave dave davecode1
st=$(post_csr simpleenroll dave.b64 dave.p7 "$EST/simpleenroll")
[ "$st" = 200 ] || fail "dave's enrolment gave $st"
p7_to_pem dave.p7 dave.pem
# A second certificate, by a new code: ee revoke takes both.
"${ADM[@]}" ee reset dave --password - <<< davecode2 >/dev/null
code_csr dave2 dave davecode2
st=$(post_csr simpleenroll dave2.b64 dave2.p7 "$EST/simpleenroll")
[ "$st" = 200 ] || fail "dave's second enrolment gave $st"
p7_to_pem dave2.p7 dave2.pem
"${ADM[@]}" ee revoke dave --reason cessationOfOperation > dave.out
grep_all "^revoked $(serial_of dave.pem) (cessationOfOperation)$" dave.out &&
    grep_all "^revoked $(serial_of dave2.pem) (cessationOfOperation)$" dave.out ||
    fail "ee revoke did not revoke both of dave's certificates: $(cat dave.out)"
grep_all "^CRL number [0-9]* of CA ManagementCA lists them; written to " dave.out ||
    fail "ee revoke's CRL line: $(cat dave.out)"
ocsp dave.pem | grep_all 'Reason: cessationOfOperation' || fail "dave not revoked over OCSP"
"${ADM[@]}" ee revoke dave | grep_all 'no valid certificate' || fail "ee revoke twice"
expect_status 200 "estd still serves" "$CRL_URL"
ok "estadm ee revoke revokes an end entity's certificates"

finish
