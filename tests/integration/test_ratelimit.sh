#!/usr/bin/env bash
# Failed authentication is limited per source address and per name (issue 6,
# point 5): wrong passwords lock out, a locked-out attempt gets the very
# answer of a wrong password even with the right one, the log says so once,
# and the lock ends on time. A request without credentials (curl --anyauth's
# first) is no failure. Other addresses and names are not affected. The
# extra source addresses are loopback ones (127.0.0.0/8), curl --interface.
. "$(dirname "$0")/lib.sh"

LOCKOUT=5
init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
sed -i "s/^\\[server\\]\$/[server]\\nauth-fail-limit = 3\\nauth-fail-window = 60\\nauth-lockout = $LOCKOUT/" \
    "$T/var/estd.conf"
printf 'alicepw\n' | "${ADM[@]}" user add alice >/dev/null
"${ADM[@]}" ee add --username dev1 --dn "CN=dev1" --alias est --password - <<< dev1code >/dev/null
start_estd
cd "$T"
if ! curl -s -o /dev/null --interface 127.0.0.2 --cacert "$TA" "$EST/cacerts"; then
	echo "skip: cannot connect from 127.0.0.2"
	exit 77
fi
mkcsr dev
PK=(-H 'Content-Type: application/pkcs10' --data-binary @dev.b64)
URL="$EST/simpleenroll"

now_ms() { date +%s%3N; }
# sleep_until MS: wait until now_ms reaches MS.
sleep_until() {
	local left=$(($1 - $(now_ms)))
	[ $left -le 0 ] || sleep "$((left / 1000)).$(printf %03d $((left % 1000)))"
}
# from ADDR HEADER-FILE BODY-FILE [curl args...]: enrol from a loopback address.
from() {
	local addr=$1 hdr=$2 body=$3; shift 3
	curl -s -D "$hdr" -o "$body" -w '%{http_code}' --interface "$addr" --cacert "$TA" "${PK[@]}" "$@" "$URL"
}
# expect_from ADDR WANT DESCRIPTION [curl args...]
expect_from() {
	local addr=$1 want=$2 what=$3 got; shift 3
	got=$(from "$addr" hdr.txt body.txt "$@") || true
	[ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got ($(cat body.txt))"
	ok "$what (HTTP $want)"
}

# No credentials: the 401 that asks for them is no failure, however often.
for _ in 1 2 3 4 5; do
	[ "$(from 127.0.0.1 hdr.txt body.txt)" = 401 ] || fail "no credentials did not get 401"
done
for _ in 1 2 3; do
	expect_from 127.0.0.1 200 "curl --anyauth: challenge, then Digest" --anyauth -u estuser:estpwd
done
! grep -q 'auth lock-out' estd.log || fail "requests without credentials counted as failures"
ok "5 requests without credentials and 3 --anyauth enrolments lock nothing out"

# Three wrong passwords lock out the address and the user name.
expect_from 127.0.0.1 401 "wrong password 1" --basic -u estuser:wrong1
cp body.txt wrong-body.txt
grep -i '^WWW-Authenticate' hdr.txt | sed 's/nonce="[^"]*"/nonce/; s/opaque="[^"]*"/opaque/' > wrong-challenges.txt
expect_from 127.0.0.1 401 "wrong password 2" --basic -u estuser:wrong2
expect_from 127.0.0.1 401 "wrong password 3" --digest -u estuser:wrong3
locked_at=$(now_ms)
grep -q "auth lock-out: address 127.0.0.1 for $LOCKOUT s after 3 failures" estd.log \
    || fail "no lock-out logged for the address"
grep -q "auth lock-out: user estuser for $LOCKOUT s after 3 failures" estd.log \
    || fail "no lock-out logged for the user"
ok "the third wrong password logs the lock-out of address 127.0.0.1 and user estuser"

# While locked out, the right password gets the answer of a wrong one.
expect_from 127.0.0.1 401 "right password, locked-out address and user" --basic -u estuser:estpwd
cmp -s body.txt wrong-body.txt || fail "a locked-out answer differs: $(cat body.txt)"
grep -i '^WWW-Authenticate' hdr.txt | sed 's/nonce="[^"]*"/nonce/; s/opaque="[^"]*"/opaque/' > challenges.txt
cmp -s challenges.txt wrong-challenges.txt || fail "a locked-out answer has other challenges"
grep -q 'reason="locked out: address 127.0.0.1"' estd.log || fail "the refusal does not say locked out"
ok "a locked-out attempt looks like a wrong password; the log says locked out"
expect_from 127.0.0.1 401 "another user from the locked-out address" --basic -u alice:alicepw
expect_from 127.0.0.2 200 "another user from another address" --basic -u alice:alicepw
expect_from 127.0.0.2 401 "the locked-out user from another address" --basic -u estuser:estpwd
grep -q 'reason="locked out: user estuser"' estd.log || fail "the user's refusal does not say locked out"
[ "$(grep -c 'auth lock-out' estd.log)" = 2 ] || fail "a lock-out was logged more than once"
ok "each lock-out is logged once"
[ $(($(now_ms) - locked_at)) -lt $((LOCKOUT * 1000)) ] \
    || fail "the checks above took longer than the lock-out; raise LOCKOUT"

# A name is limited whatever the addresses: one wrong code each from three.
CONF=req.cnf
printf '[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n[dn]\nCN = dev1\n[attrs]\nchallengePassword = %s\n' \
    wrongcode > $CONF
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev1.key -config $CONF \
    -outform DER -out wrong.der 2>/dev/null
sed -i 's/^challengePassword = .*/challengePassword = dev1code/' $CONF
openssl req -new -key dev1.key -config $CONF -outform DER -out right.der 2>/dev/null
PK=(-H 'Content-Type: application/pkcs10' --data-binary @wrong.der)
for a in 127.0.0.3 127.0.0.4 127.0.0.5; do
	expect_from $a 401 "wrong enrolment code for dev1 from $a"
done
ee_locked_at=$(now_ms)
grep -q "auth lock-out: end entity dev1 for $LOCKOUT s after 3 failures" estd.log \
    || fail "no lock-out logged for the end entity"
! grep -q 'auth lock-out: address 127.0.0.[345]' estd.log || fail "one failure locked an address out"
PK=(-H 'Content-Type: application/pkcs10' --data-binary @right.der)
expect_from 127.0.0.6 401 "the right code for the locked-out end entity"
grep -q 'reason="locked out: end entity dev1"' estd.log || fail "the code's refusal does not say locked out"
PK=(-H 'Content-Type: application/pkcs10' --data-binary @dev.b64)
expect_from 127.0.0.6 200 "another user from a fresh address" --basic -u alice:alicepw
ok "three wrong codes from three addresses lock out end entity dev1 only"

# After the lock-out, the right password works again; so does the code.
sleep_until $((locked_at + LOCKOUT * 1000 + 300))
expect_from 127.0.0.1 200 "right password after the lock-out" --basic -u estuser:estpwd
sleep_until $((ee_locked_at + LOCKOUT * 1000 + 300))
PK=(-H 'Content-Type: application/pkcs10' --data-binary @right.der)
expect_from 127.0.0.7 200 "the right code after the lock-out"

finish
