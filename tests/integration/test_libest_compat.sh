#!/usr/bin/env bash
# What libest's estclient needs from estd, checked with curl and openssl
# (libest itself is not a Debian package; issue 11 records the runs with it):
# the first WWW-Authenticate is Digest MD5, the only one libest reads; curl
# --anyauth still picks Digest; an alias can put SHA-256 first. libest's
# --auth-token sends "Bearer " and the base64 of the token (its server
# decodes it): estd takes that form too, and nothing but that form.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
sed -i 's/^\[server\]$/[server]\nbearer-tokens = tokens/' var/estd.conf
cat >> var/estd.conf <<'CONF'
[alias sha]
http-challenges = digest-sha256, basic
[alias bearer]
authentication = bearer
CONF
TOKEN=$("$ESTADM" -c var/estd.conf token add dev1 2>/dev/null)
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

# libest's client with --path-seg names the operation without the alias in
# its Digest uri: enrols on the alias; the attacker's side: a uri naming
# another operation is still refused (400: the request is malformed).
digest_libest() { # URI REQUEST-PATH: HTTP status of a Digest MD5 simpleenroll
	local nonce authz
	nonce=$(curl -s -o /dev/null -D - --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    --data-binary @dev.b64 "https://127.0.0.1:$TLS_PORT$2" | tr -d '\r' |
	    sed -n 's/^WWW-Authenticate: Digest .*algorithm=MD5.*nonce="\([^"]*\)".*/\1/p' | head -n 1)
	authz=$(python3 - "$nonce" "$1" <<'PY'
import hashlib, sys
h = lambda s: hashlib.md5(s.encode()).hexdigest()
nonce, uri, cnonce = sys.argv[1], sys.argv[2], "c0ffee"
resp = h(f"{h('estuser:estkit:estpwd')}:{nonce}:00000001:{cnonce}:auth:{h('POST:' + uri)}")
print(f'Digest username="estuser", realm="estkit", nonce="{nonce}", uri="{uri}", '
      f'algorithm=MD5, response="{resp}", qop=auth, nc=00000001, cnonce="{cnonce}"')
PY
)
	code "https://127.0.0.1:$TLS_PORT$2" -H "Authorization: $authz" \
	    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64
}
[ "$(digest_libest /.well-known/est/simpleenroll /.well-known/est/est/simpleenroll)" = 200 ] \
    || fail "libest's Digest uri without the path segment was refused: $(tail -n 1 "$T/estd.log")"
[ "$(digest_libest /.well-known/est/simplereenroll /.well-known/est/est/simpleenroll)" = 400 ] \
    || fail "a Digest uri naming another operation was not 400"
ok "Digest: libest's uri without the path segment enrols on the alias; another operation's uri: 400"

# libest's Bearer header, as est_client.c builds it: base64 of the token.
bearer() { # HEADER-VALUE: HTTP status of a simpleenroll on the bearer alias
	code "$EST/bearer/simpleenroll" -H "Authorization: Bearer $1" \
	    -H 'Content-Type: application/pkcs10' --data-binary @dev.b64
}
[ "$(bearer "$(printf %s "$TOKEN" | openssl base64 -A)")" = 200 ] || fail "libest's base64 Bearer form was refused"
grep_all 'principal=token:dev1 status=200 .*auth=bearer' "$T/estd.log" || fail "libest form: principal not token:dev1"
[ "$(bearer "$TOKEN")" = 200 ] || fail "the token as RFC 6750 sends it was refused"
ok "Bearer: libest's base64 of the token and the token itself both enrol as token:dev1"

# The attacker's side: the libest form of a wrong token, that form encoded
# twice, and base64 of something that is not a token are all refused.
[ "$(bearer "$(printf %s "${TOKEN%?}x" | openssl base64 -A)")" = 401 ] || fail "libest form of a wrong token was not 401"
[ "$(bearer "$(printf %s "$TOKEN" | openssl base64 -A | openssl base64 -A)")" = 401 ] \
    || fail "the token base64-encoded twice was accepted"
[ "$(bearer "$(printf '%s\n' "$TOKEN" | openssl base64 -A)")" = 401 ] || fail "base64 of token + newline was accepted"
ok "Bearer: wrong, doubly encoded or not-a-token base64 forms: 401"

# A bad http-challenges value names the file, line and key.
cp var/estd.conf bad.conf
printf '[alias bad]\nhttp-challenges = digest-sha1\n' >> bad.conf
if "$ESTD" -c bad.conf -n > bad.txt 2>&1; then fail "digest-sha1 was accepted"; fi
grep_all 'http-challenges: "digest-sha1" is not valid' bad.txt || fail "no clear message: $(cat bad.txt)"
ok "http-challenges = digest-sha1 refused at load with file, line and key"

finish
