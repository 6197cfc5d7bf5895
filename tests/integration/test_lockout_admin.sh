#!/usr/bin/env bash
# estadm lockout list|clear (issue 18, point 4): a lock-out estd starts is
# listed, and clearing it lets the right password in at once, without a
# restart; the 401 of a locked-out attempt stays that of a wrong password,
# while the log says what to do. An attacker gains nothing from the file:
# a missing or damaged one lifts nothing, and odd names cannot forge lines.
. "$(dirname "$0")/lib.sh"

init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
sed -i 's/^\[server\]$/[server]\nauth-fail-limit = 3\nauth-fail-window = 60\nauth-lockout = 600/' "$T/var/estd.conf"
"${ADM[@]}" ee add --username dev1 --dn "CN=dev1" --alias est --password - <<< dev1code > /dev/null
start_estd
cd "$T"
mkcsr dev
URL="$EST/simpleenroll"
enrol() { post_csr simpleenroll dev.b64 body.txt "$@" "$EST/simpleenroll"; }
LF=var/estkit.db-lockouts

"${ADM[@]}" lockout list > list.txt
[ "$(cat list.txt)" = "$(printf '%-7s  %-20s  %-9s  %s' KIND 'UNTIL (UTC)' LEFT ADDRESS-OR-NAME)" ] \
    || fail "lockout list before any lock-out: $(cat list.txt)"
ok "lockout list with no lock-out (and no file yet): only the header"

# Three wrong codes lock out the address and the end entity, listed by
# its name; --all clears everything.
for i in 1 2 3; do
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout e.key \
	    -config <(printf '[req]\nprompt=no\ndistinguished_name=dn\nattributes=a\n[dn]\nCN=dev1\n[a]\nchallengePassword=bad%s\n' "$i") \
	    -outform DER -out e.der 2>/dev/null
	openssl base64 -in e.der -out e.b64
	[ "$(post_csr simpleenroll e.b64 body.txt "$URL")" = 401 ] || fail "wrong code $i: $(cat body.txt)"
done
"${ADM[@]}" lockout list | grep_all -E '^ee .* dev1$' || fail "end entity not listed: $("${ADM[@]}" lockout list)"
[ "$("${ADM[@]}" lockout clear --all)" = "cleared 2 lock-outs" ] || fail "clear --all"
[ "$("${ADM[@]}" lockout list | wc -l)" = 1 ] || fail "lock-outs left after --all"
ok "three wrong codes lock out end entity dev1 (listed as ee dev1); clear --all lifts everything"

for i in 1 2 3; do [ "$(enrol --basic -u "estuser:wrong$i")" = 401 ] || fail "wrong password $i"; done
cp body.txt wrong-body.txt
[ "$(enrol --basic -u estuser:estpwd)" = 401 ] || fail "the right password got in while locked out"
cmp -s body.txt wrong-body.txt || fail "a locked-out 401 differs from a wrong password's: $(cat body.txt)"
ok "locked out: the right password gets the very 401 of a wrong one"
grep_all 'auth lock-out: address 127.0.0.1 for 600 s after 3 failures (estadm lockout list shows it, estadm lockout clear 127.0.0.1 lifts it)' estd.log \
    || fail "the lock-out log line does not say what to do: $(grep 'lock-out' estd.log)"
ok "the log line of a lock-out names estadm lockout list and clear"

"${ADM[@]}" lockout list > list.txt
grep_all -E '^address +[0-9-]+ [0-9:]+ +(59[0-9]|600)s +127\.0\.0\.1$' list.txt || fail "address not listed: $(cat list.txt)"
grep_all -E '^user +[0-9-]+ [0-9:]+ +(59[0-9]|600)s +estuser$' list.txt || fail "user not listed: $(cat list.txt)"
[ "$(stat -c %a "$LF")" = 600 ] || fail "the lock-out file is mode $(stat -c %a "$LF")"
ok "lockout list shows the address and the user, with their end and the seconds left"

# A missing file lifts nothing.
mv "$LF" lf.saved
[ "$(enrol --basic -u estuser:estpwd)" = 401 ] || fail "deleting the lock-out file lifted the lock-out"
mv lf.saved "$LF"
ok "a missing lock-out file lifts nothing"

rc=0; "${ADM[@]}" lockout clear 127.0.0.9 > out.txt 2>&1 || rc=$?
[ $rc = 1 ] && grep_all '127.0.0.9 is not locked out' out.txt || fail "clearing what is not locked: $rc $(cat out.txt)"
rc=0; "${ADM[@]}" lockout clear > out.txt 2>&1 || rc=$?
[ $rc = 2 ] || fail "lockout clear without arguments: $rc"
ok "lockout clear: an unknown address fails, no argument is a usage error"

[ "$("${ADM[@]}" lockout clear 127.0.0.1)" = "cleared 127.0.0.1" ] || fail "clear the address"
[ "$(enrol --basic -u estuser:estpwd)" = 401 ] || fail "the user's own lock-out was lifted with the address's"
[ "$("${ADM[@]}" lockout clear estuser)" = "cleared estuser" ] || fail "clear the user"
[ "$(enrol --basic -u estuser:estpwd)" = 200 ] || fail "after clearing, the right password: $(cat body.txt)"
grep_all 'auth lock-out lifted by the administrator: address 127.0.0.1' estd.log || fail "the lifting is not logged"
ok "clearing the address, then the user, lets the right password in without a restart"

# A cleared lock-out starts afresh: it takes the full count again.
for i in 1 2; do [ "$(enrol --basic -u "estuser:again$i")" = 401 ] || fail "wrong password again $i"; done
[ "$(enrol --basic -u estuser:estpwd)" = 200 ] || fail "two failures after a clear locked out"
ok "after a clear, the failure count starts from zero"

# A restart forgets every lock-out, in memory and in the file.
for i in 1 2 3; do [ "$(enrol --basic -u "estuser:wrong$i")" = 401 ] || fail "wrong password $i before restart"; done
"${ADM[@]}" lockout list | grep_all "^address " || fail "no lock-out before the restart"
stop_estd
"${ADM[@]}" ee add --username 'x 127.0.0.1%' --dn 'CN=x 127.0.0.1%' --alias est --password - <<< good > /dev/null
start_estd
URL="$EST/simpleenroll"
[ "$("${ADM[@]}" lockout list | wc -l)" = 1 ] || fail "lock-outs listed after a restart: $("${ADM[@]}" lockout list)"
[ "$(enrol --basic -u estuser:estpwd)" = 200 ] || fail "locked out after a restart"
ok "a restart empties the lock-out file along with the counts"

# Damaged lines are skipped, and names with spaces or % are encoded, so a
# name cannot forge a line.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout odd.key -outform DER -out odd.der \
    -config <(printf '[req]\nprompt=no\ndistinguished_name=dn\nattributes=a\n[dn]\nCN=x 127.0.0.1%%\n[a]\nchallengePassword=bad\n') 2>/dev/null
openssl base64 -in odd.der -out odd.b64
for i in 1 2 3; do [ "$(post_csr simpleenroll odd.b64 body.txt "$URL")" = 401 ] || fail "odd name, wrong code $i"; done
grep_all '^ee [0-9]* x%20127.0.0.1%25$' "$LF" || fail "the name is not encoded in the file: $(cat "$LF")"
printf 'garbage\naddress notanumber 1.2.3.4\naddress 99999999999\n' >> "$LF"
"${ADM[@]}" lockout list > list.txt
! grep_all '1\.2\.3\.4$' list.txt || fail "a malformed line was listed"
[ "$(grep -c '^address' list.txt)" = 1 ] || fail "a name forged an address line: $(cat list.txt)"
grep_all -E '^ee .* x 127\.0\.0\.1%$' list.txt || fail "the odd name was not listed decoded: $(cat list.txt)"
[ "$("${ADM[@]}" lockout clear 'x 127.0.0.1%')" = "cleared x 127.0.0.1%" ] || fail "clear the odd name"
"${ADM[@]}" lockout list | grep_all '^address .* 127\.0\.0\.1$' || fail "clearing the odd name cleared the address"
[ "$(enrol --basic -u estuser:estpwd)" = 401 ] || fail "address not locked"
"${ADM[@]}" lockout clear --all > /dev/null
[ "$(enrol --basic -u estuser:estpwd)" = 200 ] || fail "after clear --all: $(cat body.txt)"
! grep_all 'garbage' "$LF" || fail "a rewrite kept a malformed line"
ok "names with space and % are encoded; malformed lines are skipped and dropped at the next change"

finish
