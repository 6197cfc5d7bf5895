#!/usr/bin/env bash
# A serial number drawn twice (issue 12): the second enrolment's record is
# refused by the store's uniqueness (EST_ERR_EXISTS), and estd draws another
# serial and records that instead of answering 500; the first certificate
# keeps its serial. A shim preloaded into estd (tests/shims/serial_twice.c)
# makes the first two serial draws after $T/arm exists the same.
. "$(dirname "$0")/lib.sh"

SHIM="$ESTKIT_TOOLS/serial_twice.so"
[ -f "$SHIM" ] || fail "the serial_twice shim was not built"
preload=$SHIM
# Under AddressSanitizer its runtime must come first.
asan=$(ldd "$ESTD" | awk '/libasan/ { print $3 }')
[ -n "$asan" ] && preload="$asan $SHIM"

init_demo
LD_PRELOAD="$preload" SERIAL_TWICE_ARM="$T/arm" start_estd
cd "$T"
mkcsr one
mkcsr two
touch arm
[ "$(post_csr simpleenroll one.b64 one.p7 -u estuser:estpwd "$EST/simpleenroll")" = 200 ] ||
	fail "the first enrolment failed: $(cat one.p7)"
[ "$(post_csr simpleenroll two.b64 two.p7 -u estuser:estpwd "$EST/simpleenroll")" = 200 ] ||
	fail "the enrolment that drew a taken serial was not retried: $(cat two.p7)"
grep_all 'is taken; drawing another' "$T/estd.log" || fail "the shim made no collision"
ok "a serial drawn twice is drawn again: 200, not 500"

p7_to_pem one.p7 one.pem
p7_to_pem two.p7 two.pem
s1=$(openssl x509 -in one.pem -noout -serial)
s2=$(openssl x509 -in two.pem -noout -serial)
[ "$s1" != "$s2" ] || fail "both certificates carry $s1"
"$ESTADM" -c "$T/var/estd.conf" cert list > list.txt
for cn in one two; do
	[ "$(grep -c "CN=$cn" list.txt)" = 1 ] || fail "CN=$cn is not on record once: $(cat list.txt)"
done
ok "each certificate is on record once, with its own serial"

finish
