#!/usr/bin/env bash
# What libest's estclient needs from estd, checked with curl and openssl
# (libest itself is not a Debian package; issue 11 records the runs with it):
# the first WWW-Authenticate is Digest MD5, the only one libest reads; curl
# --anyauth still picks Digest; an alias can put SHA-256 first.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
cat >> var/estd.conf <<'CONF'
[alias sha]
http-challenges = digest-sha256, basic
CONF
start_estd
mkcsr dev

# challenges URL: the WWW-Authenticate values of a 401, in order.
challenges() {
	curl -s -o /dev/null -D - --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    --data-binary @dev.b64 "$1" | tr -d '\r' | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: //p'
}
challenges "$EST/simpleenroll" > default.txt
head -n 1 default.txt | grep_all '^Digest .*algorithm=MD5' || fail "first challenge is not Digest MD5: $(cat default.txt)"
sed -n 2p default.txt | grep_all '^Digest .*algorithm=SHA-256' || fail "second is not Digest SHA-256"
sed -n 3p default.txt | grep_all '^Basic ' || fail "third is not Basic"
ok "default 401: Digest MD5 first (libest reads only the first), then SHA-256, Basic"

challenges "$EST/sha/simpleenroll" > sha.txt
[ "$(wc -l < sha.txt)" = 2 ] || fail "sha alias: expected 2 challenges: $(cat sha.txt)"
head -n 1 sha.txt | grep_all 'algorithm=SHA-256' || fail "sha alias: SHA-256 not first"
sed -n 2p sha.txt | grep_all '^Basic ' || fail "sha alias: Basic not second"
ok "http-challenges = digest-sha256, basic: that order, nothing else"

# What curl --anyauth answers with: its Authorization line.
authz() {
	curl -sv -o /dev/null --cacert "$TA" --anyauth -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
	    --data-binary @dev.b64 -w '%{http_code}\n' "$1" 2>&1 | tr -d '\r' | grep -E '^> Authorization:|^[0-9]{3}$' || true
}
authz "$EST/simpleenroll" > anyauth.txt
grep_all '^> Authorization: Digest .*algorithm=MD5' anyauth.txt || fail "curl --anyauth did not use Digest MD5: $(cat anyauth.txt)"
grep_all '^200$' anyauth.txt || fail "curl --anyauth: not 200: $(cat anyauth.txt)"
ok "curl --anyauth picks Digest (MD5, the first Digest offered) and enrols"
authz "$EST/sha/simpleenroll" > anyauth2.txt
grep_all '^> Authorization: Digest .*algorithm=SHA-256' anyauth2.txt || fail "sha alias: curl did not use SHA-256: $(cat anyauth2.txt)"
grep_all '^200$' anyauth2.txt || fail "sha alias: not 200: $(cat anyauth2.txt)"
ok "alias with SHA-256 first: curl --anyauth answers with Digest SHA-256"

# The attacker's side: a wrong password under MD5 is still a 401 with challenges.
[ "$(code "$EST/simpleenroll" --digest -u estuser:wrong -H 'Content-Type: application/pkcs10' --data-binary @dev.b64)" = 401 ] \
    || fail "wrong Digest MD5 password was not 401"
ok "wrong password with Digest MD5: 401"

# A bad http-challenges value names the file, line and key.
cp var/estd.conf bad.conf
printf '[alias bad]\nhttp-challenges = digest-sha1\n' >> bad.conf
if "$ESTD" -c bad.conf -n > bad.txt 2>&1; then fail "digest-sha1 was accepted"; fi
grep_all 'http-challenges: "digest-sha1" is not valid' bad.txt || fail "no clear message: $(cat bad.txt)"
ok "http-challenges = digest-sha1 refused at load with file, line and key"

finish
