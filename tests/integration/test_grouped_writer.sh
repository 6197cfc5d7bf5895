#!/usr/bin/env bash
# Enrolments answered after the grouped store writer made them durable
# (issue 12): pipelined requests on one connection are answered in order;
# a client that leaves before its answer leaves nothing behind (estd still
# serves, and stops cleanly, without a sanitizer report); what was recorded
# for it is on record; stopping with enrolments in flight loses no record
# of a certificate sent.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
mkcsr one
mkcsr two
auth=$(printf 'estuser:estpwd' | openssl base64 -A)

# request FILE [close]: one HTTP/1.1 POST of the CSR in FILE, keep-alive
# unless close is given.
request() {
	printf 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: 127.0.0.1\r\n'
	[ "${2:-}" = close ] && printf 'Connection: close\r\n'
	printf 'Authorization: Basic %s\r\nContent-Type: application/pkcs10\r\n' "$auth"
	printf 'Content-Length: %s\r\n\r\n' "$(wc -c < "$1")"
	cat "$1"
}

# Two requests in one write: the second waits until the first is answered;
# estd closes after the second (s_client -quiet waits for that, not for stdin).
{ request one.b64; request two.b64 close; sleep 3; } |
	openssl s_client -quiet -connect "127.0.0.1:$TLS_PORT" -CAfile "$TA" >pipelined.out 2>/dev/null || true
[ "$(grep -c '^HTTP/1.1 200' pipelined.out)" = 2 ] || fail "pipelined: $(grep '^HTTP/' pipelined.out | tr '\r\n' '  ')"
# The bodies in order: the first names CN=one, the second CN=two.
tr -d '\r' < pipelined.out | awk '/^HTTP\/1.1/ { n++; body = 0; next }
	body { print > ("body" n ".b64") } /^$/ { body = 1 }'
b64d < body1.b64 | openssl pkcs7 -inform DER -print_certs | grep_all 'subject=CN = one' ||
	fail "the first pipelined answer is not the first request's"
b64d < body2.b64 | openssl pkcs7 -inform DER -print_certs | grep_all 'subject=CN = two' ||
	fail "the second pipelined answer is not the second request's"
ok "pipelined enrolments are answered in order"

# Clients that leave at once, before their answers.
for _ in $(seq 20); do
	request one.b64 | timeout 0.2 openssl s_client -quiet -connect "127.0.0.1:$TLS_PORT" \
		-CAfile "$TA" >/dev/null 2>&1 || true
done
kill -0 "$ESTD_PID" || fail "estd died when clients left before their answers"
[ "$(post_csr simpleenroll two.b64 after.p7 -u estuser:estpwd "$EST/simpleenroll")" = 200 ] ||
	fail "no enrolment after clients left early"
ok "clients leaving before their answers do not disturb estd"
"$ESTADM" -c "$T/var/estd.conf" cert list > list.txt
[ "$(grep -c 'CN=one' list.txt)" -ge 1 ] || fail "nothing recorded for CN=one"
ok "certificates are on record ($(grep -c 'valid' list.txt) valid)"

# Stopping while enrolments are with the writer: every one that got its
# certificate has it on record, those cut off are freed (no leak or
# sanitizer report: finish checks), and estd exits 0.
mkdir got
issued=$(grep -c 'issued serial' "$T/estd.log")
for i in $(seq 16); do
	curl -s -o "got/$i.p7" -w '%{http_code}' --max-time 10 --cacert "$TA" -u estuser:estpwd \
		-H 'Content-Type: application/pkcs10' --data-binary @one.b64 "$EST/simpleenroll" \
		> "got/$i.status" 2>/dev/null &
done
# Stop as soon as the first of them is answered: the others are under way.
for _ in $(seq 200); do
	[ "$(grep -c 'issued serial' "$T/estd.log")" -gt "$issued" ] && break
	sleep 0.02
done
check_estd_exit
wait
"$ESTADM" -c "$T/var/estd.conf" cert list > list.txt
for f in got/*.status; do
	[ "$(cat "$f")" = 200 ] || continue
	serial=$(p7_to_pem "${f%.status}.p7" /dev/stdout | openssl x509 -noout -serial | cut -d= -f2)
	grep_all -i "$serial" list.txt || fail "certificate $serial was received but is not on record"
done
ok "stopping with enrolments in flight: $(grep -l '^200$' got/*.status | wc -l) received, all on record"

finish
