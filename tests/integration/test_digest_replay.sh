#!/usr/bin/env bash
# Digest as RFC 7616 intends (issue 10, point 3): the attack of the issue --
# one Authorization header (SHA-256, nc=00000001) sent three times with three
# CSRs -- gets one certificate, not three. A client counting nc up (curl)
# goes on enrolling on one connection.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
for i in 1 2 3; do mkcsr "dev$i"; done
URL="$EST/simpleenroll"
curl -s -o /dev/null -D chal.txt --cacert "$TA" -H 'Content-Type: application/pkcs10' \
    --data-binary @dev1.b64 "$URL"
nonce=$(grep -i '^WWW-Authenticate: Digest.*SHA-256' chal.txt | sed 's/.*nonce="\([^"]*\)".*/\1/')
[ -n "$nonce" ] || fail "no SHA-256 Digest challenge"
authz=$(python3 - "$nonce" <<'PY'
import hashlib, sys
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
nonce, uri, cnonce = sys.argv[1], "/.well-known/est/simpleenroll", "c0ffee"
ha1 = h("estuser:estkit:estpwd")
resp = h(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{h('POST:' + uri)}")
print(f'Digest username="estuser", realm="estkit", nonce="{nonce}", uri="{uri}", '
      f'algorithm=SHA-256, response="{resp}", qop=auth, nc=00000001, cnonce="{cnonce}"')
PY
)
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
finish
