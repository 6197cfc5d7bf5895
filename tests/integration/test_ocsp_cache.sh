#!/usr/bin/env bash
# The OCSP responder under load it did not ask for (docs/revocation.md,
# "OCSP answers"): the same question without a nonce gets the same signed
# bytes again; a revocation still shows in the next answer; new signatures
# are held to ocsp-signatures-per-second, past which a new question gets
# tryLater and a nonce is answered from what is kept, without the nonce.
# Relying parties check the answers: openssl ocsp.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || exit 77
cd "$T"
init_demo
# One worker, so the whole budget is one table; one signature a second.
sed -i 's/^\[server\]$/[server]\nworkers = 1\nocsp-signatures-per-second = 1/' "$T/var/estd.conf"
start_estd
enrol_demo alice
enrol_demo bob
OCSP="http://127.0.0.1:$HTTP_PORT/ocsp"

# ask REQ OUT: POST the DER request REQ, the response to OUT.
ask() {
	curl -s -o "$2" -H 'Content-Type: application/ocsp-request' --data-binary @"$1" "$OCSP"
}
# says REQ RESP: openssl ocsp's reading of RESP as the answer to REQ (its nonce
# checked), signature checked up to ca.pem.
says() {
	openssl ocsp -reqin "$1" -respin "$2" -CAfile "$TA" -resp_text 2>&1 || true
}
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//'; }
# A request about a serial nobody was issued: a new question each time.
unknown_req() { openssl ocsp -issuer "$TA" -serial "0x$1" -no_nonce -reqout "$2" >/dev/null 2>&1; }
refill() { sleep 1.2; }

openssl ocsp -issuer "$TA" -cert alice.pem -no_nonce -reqout alice.req >/dev/null 2>&1
ask alice.req r1
refill
ask alice.req r2
grep_all 'Cert Status: good' <<<"$(says alice.req r2)" || fail "alice not good: $(says alice.req r2)"
grep_all 'Response verify OK' <<<"$(says alice.req r2)" || fail "kept response does not verify"
cmp -s r1 r2 || fail "the same question a second apart was signed again"
ok "the same question without a nonce gets the same signed response (thisUpdate kept)"

refill
"$ESTADM" -c "$T/var/estd.conf" cert revoke "$(serial_of alice.pem)" --reason keyCompromise >/dev/null
ask alice.req r3
out=$(says alice.req r3)
grep_all 'Cert Status: revoked' <<<"$out" || fail "the kept good answer outlived the revocation: $out"
grep_all 'Reason: keyCompromise' <<<"$out" || fail "no reason: $out"
ok "a revocation shows in the next answer, kept answers notwithstanding"

# Ask about bob without a nonce, so an answer is kept; then spend the budget
# on new questions and ask about bob with a nonce. A slow machine may refill
# the budget between the two: try a few times.
openssl ocsp -issuer "$TA" -cert bob.pem -no_nonce -reqout bob.req >/dev/null 2>&1
openssl ocsp -issuer "$TA" -cert bob.pem -reqout bob-nonce.req >/dev/null 2>&1
refill
ask bob.req rb
grep_all 'Cert Status: good' <<<"$(says bob.req rb)" || fail "bob not good"
for i in $(seq 20); do unknown_req "$(printf '7e57%04x' "$i")" "u$i.req"; done
later=0 fresh=0 unechoed=0
for try in 1 2 3 4 5; do
	refill
	for i in $(seq $((try * 4 - 3)) $((try * 4))); do
		ask "u$i.req" "ru$i"
		st=$(openssl ocsp -respin "ru$i" -noverify -resp_text 2>&1 || true)
		if grep_all -i 'trylater' <<<"$st"; then
			later=$((later + 1))
		elif grep_all 'Cert Status: unknown' <<<"$st"; then
			fresh=$((fresh + 1))
		else
			fail "an unknown serial got neither unknown nor tryLater: $st"
		fi
	done
	ask bob-nonce.req rn
	out=$(says bob-nonce.req rn)
	grep_all 'Cert Status: good' <<<"$out" || fail "bob with a nonce: $out"
	grep_all 'Response verify OK' <<<"$out" || fail "bob with a nonce does not verify: $out"
	! grep_all 'Nonce Verify error' <<<"$out" || fail "another nonce echoed: $out"
	if grep_all 'WARNING: no nonce in response' <<<"$out"; then
		cmp -s rb rn || fail "a nonce past the budget got another response than the kept one"
		unechoed=1
		break
	fi
done
[ "$later" -gt 0 ] || fail "20 new questions at once, one signature a second: no tryLater"
[ "$fresh" -gt 0 ] || fail "no new question was answered"
[ "$unechoed" = 1 ] || fail "a nonce past the budget was never answered from the kept response"
grep_all 'over ocsp-signatures-per-second' "$T/estd.log" || fail "tryLater not logged"
ok "past the budget: tryLater for new questions ($later of $((fresh + later))), the kept answer for a nonce"

refill
ask bob-nonce.req rn2
out=$(says bob-nonce.req rn2)
grep_all 'OCSP Nonce' <<<"$out" || fail "nonce not echoed within the budget: $out"
! grep_all -i 'nonce verify error\|no nonce' <<<"$out" || fail "nonce not the request's: $out"
ok "within the budget a nonce is echoed again"

finish
