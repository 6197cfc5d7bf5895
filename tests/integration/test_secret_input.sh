#!/usr/bin/env bash
# Secrets are never command-line arguments, and the files holding them are
# not open to others (issue 10, point 5): estadm takes codes and passwords
# from standard input (--password -), a file (--password-file) or the
# terminal, and refuses a plain --password VALUE; estd refuses a users file
# or store readable by group or others, printing the chmod; estadm init
# refuses a directory others may write.
. "$(dirname "$0")/lib.sh"

cd "$T"
mkdir -m 0777 open
chmod 0777 open
! "$ESTADM" init open --http-port 0 --tls-port 0 --mtls-port 0 > out.txt 2>&1 ||
	fail "init into a world-writable directory"
grep_all "writable by others.*chmod o-w" out.txt || fail "init into 0777: $(cat out.txt)"
[ -z "$(ls open)" ] || fail "init wrote into the world-writable directory"
ok "estadm init refuses a world-writable directory: $(cat out.txt)"

! "$ESTADM" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 --password Plain1 > out.txt 2>&1 ||
	fail "init took a password on the command line"
grep_all "not taken on the command line" out.txt || fail "init --password VALUE: $(cat out.txt)"
[ ! -e "$T/var" ] || fail "init made files after refusing the password"
ok "estadm init --password VALUE is refused"
printf 'N3w-Init-Pw\n' | "$ESTADM" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 \
    --password - > /dev/null || fail "init --password -"
TA="$T/var/ca.pem"
ADM=("$ESTADM" -c "$T/var/estd.conf")

! "${ADM[@]}" ee add --username dev1 --dn CN=dev1 --alias est --password C0de1 > out.txt 2>&1 ||
	fail "ee add took a code on the command line"
grep_all "/proc/PID/cmdline" out.txt || fail "ee add --password VALUE: $(cat out.txt)"
! "${ADM[@]}" ee show dev1 > /dev/null 2>&1 || fail "ee add registered after refusing the code"
! "${ADM[@]}" ee add --username dev1 --dn CN=dev1 --alias est < /dev/null > out.txt 2>&1 ||
	fail "ee add without a terminal or a code"
grep_all "no terminal" out.txt || fail "ee add without a code: $(cat out.txt)"
ok "estadm ee add refuses --password VALUE, and asks for a code it cannot get"
"${ADM[@]}" ee add --username dev1 --dn CN=dev1 --alias est --password - <<< C0de-stdin > /dev/null ||
	fail "ee add --password -"
printf 'C0de-file\n' > code.txt
"${ADM[@]}" ee add --username dev2 --dn CN=dev2 --alias est --password-file code.txt > /dev/null ||
	fail "ee add --password-file"
! "${ADM[@]}" ee reset dev2 --password again > out.txt 2>&1 || fail "ee reset took a code on the command line"
"${ADM[@]}" ee reset dev2 --password-file code.txt > /dev/null || fail "ee reset --password-file"
ok "codes from standard input and from a file"

start_estd
for who in dev1:C0de-stdin dev2:C0de-file; do
	n=${who%%:*} c=${who#*:}
	printf '[req]\ndistinguished_name=d\nattributes=r\nprompt=no\n[d]\nCN=%s\n[r]\nchallengePassword=%s\n' "$n" "$c" > "$n.cnf"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$n.key" -config "$n.cnf" \
	    -outform DER -out "$n.der" 2>/dev/null
	expect_status 200 "$n enrols with the code it was given" "$EST/simpleenroll" \
	    -H 'Content-Type: application/pkcs10' --data-binary @"$n.der"
done
mkcsr u
expect_status 200 "init's user has the password from standard input" "$EST/simpleenroll" \
    -H 'Content-Type: application/pkcs10' --data-binary @u.b64 --basic -u estuser:N3w-Init-Pw
check_estd_exit

for f in users estkit.db; do
	chmod 0640 "var/$f"
	! "$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n accepted $f at 0640"
	grep_all "run: chmod 600 .*var/$f" out.txt || fail "estd -n with $f at 0640: $(cat out.txt)"
	! "$ESTD" -c var/estd.conf > out.txt 2>&1 || fail "estd started with $f at 0640"
	chmod 0600 "var/$f"
	ok "estd refuses $f readable by its group: $(cat out.txt)"
done
chmod 0604 var/users
! "$ESTD" -n -c var/estd.conf > /dev/null 2>&1 || fail "estd -n accepted users at 0604"
chmod 0600 var/users
"$ESTD" -n -c var/estd.conf > /dev/null || fail "estd -n at 0600"
ok "estd refuses users readable by others, accepts 0600"
echo "$PASSED passed, 0 failed"
