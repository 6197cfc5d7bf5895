#!/usr/bin/env bash
# Secrets stay secret (issue 6, "Secrets"): passwords, enrolment codes,
# wrong guesses and server-generated private keys never reach the log (even
# at debug level), the store or the credentials file in clear.
. "$(dirname "$0")/lib.sh"

PW='Sup3r-S3cret-Pw'
GUESS='Wr0ng-Guess-Pw'
CODE='C0de-Very-Secret'

init_demo
sed -i 's/^log-level = info/log-level = debug/' "$T/var/estd.conf"
echo "$PW" | "$ESTADM" -c "$T/var/estd.conf" user add alice --password-stdin >/dev/null
"$ESTADM" -c "$T/var/estd.conf" ee add --username dev1 --dn "CN=dev1" --alias est --password - <<< "$CODE" >/dev/null
start_estd
cd "$T"
PK=(-H 'Content-Type: application/pkcs10')

printf '[req]\ndistinguished_name=d\nattributes=r\nprompt=no\n[d]\nCN=dev1\n[r]\nchallengePassword=%s\n' "$CODE" > code.cnf
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev1.key -config code.cnf \
    -outform DER -out dev1.der 2>/dev/null
expect_status 200 "enrolment with the code" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev1.der
mkcsr alice
expect_status 200 "Basic with the password" "$EST/simpleenroll" "${PK[@]}" --data-binary @alice.b64 --basic -u "alice:$PW"
expect_status 200 "Digest with the password" "$EST/simpleenroll" "${PK[@]}" --data-binary @alice.b64 --digest -u "alice:$PW"
expect_status 401 "Basic with a wrong guess" "$EST/simpleenroll" "${PK[@]}" --data-binary @alice.b64 --basic -u "alice:$GUESS"
expect_status 401 "a spent code" "$EST/simpleenroll" "${PK[@]}" --data-binary @dev1.der
openssl req -new -newkey rsa:2048 -nodes -keyout sk.key -subj /CN=keygen -outform DER -out sk.der 2>/dev/null
curl -s -o keygen.out --cacert "$TA" "${PK[@]}" --data-binary @sk.der --basic -u "alice:$PW" "$EST/serverkeygen"
key_b64=$(awk '/application\/pkcs8/{f=1; next} f && /^\r?$/{g=1; next} g && /^--/{exit} g' keygen.out | tr -d '\r\n')
[ ${#key_b64} -gt 100 ] || fail "no key in the /serverkeygen answer"
ok "server-generated key received"
check_estd_exit

for f in estd.log var/estkit.db var/estkit.db-wal var/users; do
	[ -f "$f" ] || continue
	for secret in "$PW" "$GUESS" "$CODE" "${key_b64:20:40}"; do
		if grep -aqF -- "$secret" "$f"; then
			fail "$f holds a secret in clear: ${secret:0:6}..."
		fi
	done
	grep -aq 'PRIVATE KEY' "$f" && fail "$f holds a PEM private key"
done
ok "no password, wrong guess, enrolment code or generated key in the log, the store or the users file"
grep -q "wrong password for 'alice'" estd.log || fail "the log does not say why alice failed"
ok "the log still says why an authentication failed"

echo "$PASSED passed, 0 failed"
