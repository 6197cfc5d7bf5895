#!/usr/bin/env bash
# Digest as RFC 7616 intends (issue 10, point 3): the attack of the issue --
# one Authorization header (SHA-256, nc=00000001) sent three times with three
# CSRs -- gets one certificate, not three. A client counting nc up (curl)
# goes on enrolling on one connection. A Digest uri naming another resource
# is a malformed request (RFC 7616 §3.4.6): 400, whatever the credentials,
# also while the client is locked out.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
for i in 1 2 3; do mkcsr "dev$i"; done
URL="$EST/simpleenroll"
curl -s -o /dev/null -D chal.txt --cacert "$TA" -H 'Content-Type: application/pkcs10' \
    --data-binary @dev1.b64 "$URL"
# digest_authz NONCE URI PASSWORD: a SHA-256 Digest header for POST, nc=00000001.
digest_authz() {
	python3 - "$@" <<'PY'
import hashlib, sys
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
nonce, uri, pwd, cnonce = sys.argv[1], sys.argv[2], sys.argv[3], "c0ffee"
ha1 = h(f"estuser:estkit:{pwd}")
resp = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{h('POST:' + uri)}")
print(f'Digest username="estuser", realm="estkit", nonce="{nonce}", uri="{uri}", '
      f'algorithm=SHA-256, response="{resp}", qop=auth, nc=00000001, cnonce="{cnonce}"')
PY
}
# fresh_nonce: the nonce of a new SHA-256 Digest challenge.
fresh_nonce() {
	curl -s -o /dev/null -D - --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    --data-binary @dev1.b64 "$URL" | tr -d '\r' |
	    sed -n 's/^WWW-Authenticate: Digest .*SHA-256.*nonce="\([^"]*\)".*/\1/p'
}
nonce=$(fresh_nonce)
[ -n "$nonce" ] || fail "no SHA-256 Digest challenge"
authz=$(digest_authz "$nonce" /.well-known/est/simpleenroll estpwd)
codes=""
for i in 1 2 3; do
	codes="$codes $(curl -s -o "out$i" -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    -H "Authorization: $authz" --data-binary @"dev$i.b64" "$URL")"
done
[ "$codes" = " 200 401 401" ] || fail "one Digest header sent three times gave:$codes"
ok "one Digest header replayed with other CSRs: 200, then 401, 401"
grep_all 'replayed Digest request' estd.log || fail "the replay is not logged as such"
ok "the log names the replay"
issued=$(grep -c 'issued serial=' estd.log)
[ "$issued" = 1 ] || fail "$issued certificates issued"
ok "one certificate issued"
# curl counts nc up on one connection: three enrolments in one run.
got=$(curl -s -o /dev/null -w '%{http_code} ' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
    --digest -u estuser:estpwd --data-binary @dev2.b64 "$URL" --next -o /dev/null -w '%{http_code} ' --cacert "$TA" \
    -H 'Content-Type: application/pkcs10' --digest -u estuser:estpwd --data-binary @dev3.b64 "$URL")
[ "$got" = "200 200 " ] || fail "curl --digest twice on one connection gave $got"
ok "curl --digest enrols twice in a row"

# mismatch PASSWORD: POST simpleenroll with a Digest whose uri names /cacerts.
mismatch() {
	curl -s -o mismatch.out -D mismatch.hdr -w '%{http_code}' --cacert "$TA" \
	    -H 'Content-Type: application/pkcs10' \
	    -H "Authorization: $(digest_authz "$(fresh_nonce)" /.well-known/est/cacerts "$1")" \
	    --data-binary @dev1.b64 "$URL"
}
before=$(grep -c 'issued serial=' estd.log)
[ "$(mismatch estpwd)" = 400 ] || fail "a Digest uri naming /cacerts on simpleenroll was not 400"
[ "$(wc -l < mismatch.out)" = 1 ] && grep_all 'uri mismatch' mismatch.out \
    || fail "the 400's body is not one line naming the uri mismatch: $(cat mismatch.out)"
grep_all -i 'estpwd\|estuser\|response\|nonce\|password' mismatch.out \
    && fail "the 400's body speaks of the credentials: $(cat mismatch.out)"
grep_all -i '^WWW-Authenticate' mismatch.hdr && fail "the 400 carries a challenge"
grep_all 'status=400 .*reason=.*uri mismatch' estd.log \
    || fail "the access log has no status=400 line naming the uri mismatch"
ok "Digest uri naming another resource: 400, one line without credentials, logged"
[ "$(mismatch wrong)" = 400 ] || fail "a uri mismatch with a wrong password was not 400"
cp mismatch.out mismatch-wrong.out
ok "the same 400 with a wrong password"
[ "$(grep -c 'issued serial=' estd.log)" = "$before" ] || fail "a uri mismatch was issued a certificate"

# Locked out (auth-fail-limit wrong passwords from this address), a uri
# mismatch is still 400 and the right uri 401: the 400 tells nothing about
# the lock-out. Last, as the lock-out holds for this address from now on.
for _ in $(seq 10); do
	code "$URL" --digest -u estuser:wrong -H 'Content-Type: application/pkcs10' \
	    --data-binary @dev1.b64 > /dev/null || true
done
grep_all 'locked out\|lock-out\|lockout' estd.log || fail "10 wrong passwords locked nothing out"
[ "$(mismatch estpwd)" = 400 ] || fail "a uri mismatch while locked out was not 400"
cmp -s mismatch.out mismatch-wrong.out || fail "the 400 while locked out differs: $(cat mismatch.out)"
[ "$(code "$URL" --digest -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
    --data-binary @dev1.b64)" = 401 ] || fail "the right password while locked out was not 401"
ok "locked out: a uri mismatch is still the same 400, the right password 401"
finish
