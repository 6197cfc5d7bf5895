#!/usr/bin/env bash
# HTTP Bearer (RFC 6750, issue 11): opaque tokens from estadm token (only
# their hashes kept), and JWTs checked against a configured key (signature,
# alg, iss, aud, exp, nbf). A refused token gets 401 with
# WWW-Authenticate: Bearer error="invalid_token"; estclient --auth-token
# sends them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

init_demo
cd "$T"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out jwt-rsa.key 2>/dev/null
openssl pkey -in jwt-rsa.key -pubout -out var/jwt-rsa.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out jwt-ec.key 2>/dev/null
openssl pkey -in jwt-ec.key -pubout -out var/jwt-ec.pub
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out other.key 2>/dev/null
# No lock-out here: the refusals below come from one address.
sed -i 's/^\[server\]$/[server]\nauth-fail-limit = 0\nbearer-tokens = tokens\nbearer-jwt-key = jwt-rsa.pub\nbearer-jwt-issuer = https:\/\/idp.example\nbearer-jwt-audience = est/' var/estd.conf
cat >> var/estd.conf <<'CONF'
[alias bearer]
authentication = bearer
CONF

# ---- estadm token --------------------------------------------------------------
TOKEN=$("$ESTADM" -c var/estd.conf token add dev1 2>/dev/null)
[ "${#TOKEN}" = 43 ] || fail "token add printed \"$TOKEN\""
"$ESTADM" -c var/estd.conf token add dev2 >/dev/null 2>&1
"$ESTADM" -c var/estd.conf token add dev3 >/dev/null 2>&1
"$ESTADM" -c var/estd.conf token del dev3 >/dev/null
[ "$("$ESTADM" -c var/estd.conf token list | tr '\n' ' ')" = "dev1 dev2 " ] || fail "token list"
[ "$(stat -c %a var/tokens)" = 600 ] || fail "tokens file is not mode 0600"
! grep -q -- "$TOKEN" var/tokens || fail "the token itself is in the file"
grep_all "^dev1:$(printf %s "$TOKEN" | openssl dgst -sha256 -r | cut -d' ' -f1)\$" var/tokens || fail "not name:sha256"
ok "estadm token add|del|list: the token shown once, its SHA-256 kept (mode 0600)"

# Concurrent changes: each is in the file or was refused, none lost.
for i in $(seq 16); do
	("$ESTADM" -c var/estd.conf token add "race$i" > "race$i.out" 2>&1; echo $? > "race$i.rc") &
done
wait
made=0
for i in $(seq 16); do
	if [ "$(cat "race$i.rc")" = 0 ]; then
		made=$((made + 1))
		grep_all "^race$i:" var/tokens || fail "token add race$i said yes but its line is gone (a lost update)"
	else
		grep_all 'another update is running' "race$i.out" || fail "token add race$i: $(cat "race$i.out")"
	fi
done
[ "$made" -ge 1 ] || fail "no concurrent token add succeeded"
touch var/tokens.tmp
rc=0; "$ESTADM" -c var/estd.conf token add late > late.out 2>&1 || rc=$?
[ $rc != 0 ] && grep_all 'tokens.tmp exists: another update is running' late.out || fail "a stale lock: $rc $(cat late.out)"
rm var/tokens.tmp
"$ESTADM" -c var/estd.conf token add late > /dev/null 2>&1 || fail "token add after the lock was removed"
for i in $(seq 16); do "$ESTADM" -c var/estd.conf token del "race$i" > /dev/null 2>&1 || true; done
"$ESTADM" -c var/estd.conf token del late > /dev/null
[ "$("$ESTADM" -c var/estd.conf token list | tr '\n' ' ')" = "dev1 dev2 " ] || fail "token list after the race"
ok "16 concurrent token adds: $made made and kept, the others refused (another update is running); none lost"

start_estd
mkcsr dev
post() { # URL AUTHZ-HEADER OUT: HTTP status
	curl -s -o "$3" -D "$3.h" -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    -H "Authorization: $2" --data-binary @dev.b64 "$1"
}
[ "$(post "$EST/bearer/simpleenroll" "Bearer $TOKEN" ok.p7)" = 200 ] || fail "token: $(cat ok.p7)"
grep_all 'principal=token:dev1 status=200 ms=[0-9.]* auth=bearer ' "$T/estd.log" || fail "principal not token:dev1, or auth not bearer"
ok "an estadm token enrols (principal token:dev1)"

# The attacker's side: unknown, malformed, or no token.
[ "$(post "$EST/bearer/simpleenroll" "Bearer ${TOKEN%?}x" bad.txt)" = 401 ] || fail "a wrong token was not 401"
grep_all -i '^WWW-Authenticate: Bearer realm="estkit", error="invalid_token"' bad.txt.h || fail "no invalid_token challenge: $(cat bad.txt.h)"
[ "$(post "$EST/bearer/simpleenroll" "Bearer a b" bad2.txt)" = 401 ] || fail "a malformed header was not 401"
grep_all -i 'error="invalid_request"' bad2.txt.h || fail "no invalid_request challenge"
status=$(curl -s -o none.txt -D none.h -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
    --data-binary @dev.b64 "$EST/bearer/simpleenroll")
[ "$status" = 401 ] && grep_all -i '^WWW-Authenticate: Bearer realm="estkit"'$'\r''$' none.h || fail "no Bearer challenge without a token: $(cat none.h)"
grep_all -i '^WWW-Authenticate: \(Basic\|Digest\)' none.h && fail "a Bearer-only alias offered Basic or Digest: $(cat none.h)"
ok "wrong token: 401 error=invalid_token; malformed: invalid_request; none: a bare Bearer challenge (RFC 6750 §3), and no other"

# A token sent without its scheme, or after a tab, stands where the log's auth
# field took the scheme from: it must not reach the log (it did, lower-cased).
# After a tab it is a malformed Bearer header (it was "no credentials").
[ "$(post "$EST/bearer/simpleenroll" "$TOKEN" noscheme.txt)" = 401 ] || fail "a bare token was not 401"
[ "$(post "$EST/bearer/simpleenroll" "Bearer"$'\t'"$TOKEN" tab.txt)" = 401 ] || fail "Bearer<TAB>token was not 401"
grep_all -i 'error="invalid_request"' tab.txt.h || fail "Bearer<TAB>token: no invalid_request: $(cat tab.txt.h)"
grep -i -F -- "${TOKEN:0:10}" "$T/estd.log" && fail "a part of the token is in the log"
grep_all 'principal=- status=401 ms=[0-9.]* auth=http serial=- reason="no credentials presented"' "$T/estd.log" ||
    fail "a bare token is not logged as auth=http"
grep_all 'principal=- status=401 ms=[0-9.]* auth=bearer serial=- reason="malformed bearer token"' "$T/estd.log" ||
    fail "Bearer<TAB>token is not logged as a malformed bearer token"
ok "a token without its scheme (auth=http) or after a tab (invalid_request): 401, no part of it in the log"

# Two Authorization fields: estd used the first, a proxy in front may check the
# last. Either order enrolled or not by which came first; now both are 400.
for pair in "Bearer $TOKEN|Bearer x${TOKEN#?}" "Bearer x${TOKEN#?}|Bearer $TOKEN"; do
	status=$(curl -s -o two.txt -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
	    -H "Authorization: ${pair%%|*}" -H "Authorization: ${pair#*|}" --data-binary @dev.b64 \
	    "$EST/bearer/simpleenroll")
	[ "$status" = 400 ] && grep_all 'more than one Authorization field' two.txt ||
	    fail "two Authorization fields: HTTP $status, $(cat two.txt)"
done
ok "two Authorization fields: 400, whichever holds the good token"
"$ESTADM" -c var/estd.conf token del dev1 >/dev/null
[ "$(post "$EST/bearer/simpleenroll" "Bearer $TOKEN" gone.txt)" = 401 ] || fail "a deleted token still works"
ok "a deleted token is refused at once"

# ---- JWT ---------------------------------------------------------------------------
# jwt KEYFILE ALG CLAIMS-JSON [HEADER-JSON]: a compact JWS.
jwt() {
	python3 - "$@" <<'PY'
import base64, json, subprocess, sys
key, alg, claims = sys.argv[1], sys.argv[2], sys.argv[3]
hdr = sys.argv[4] if len(sys.argv) > 4 else json.dumps({"alg": alg, "typ": "JWT"})
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
si = b(hdr.encode()) + "." + b(claims.encode())
sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=si.encode(), capture_output=True).stdout
if alg == "ES256":  # DER ECDSA-Sig-Value to r || s
    def ints(d):
        i, out = 2, []
        while i < len(d):
            n = d[i + 1]; out.append(int.from_bytes(d[i + 2:i + 2 + n], "big")); i += 2 + n
        return out
    r, s = ints(sig)
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
print(si + "." + b(sig))
PY
}
NOW=$(date +%s)
good='{"iss":"https://idp.example","aud":["x","est"],"sub":"device7","exp":'$((NOW + 600))'}'
J=$(jwt jwt-rsa.key RS256 "$good")
[ "$(post "$EST/bearer/simpleenroll" "Bearer $J" jwt.p7)" = 200 ] || fail "a good JWT: $(cat jwt.p7)"
grep_all 'principal=jwt:device7 status=200' "$T/estd.log" || fail "principal not jwt:device7"
ok "a JWT signed by the configured key, right iss/aud/exp: 200, principal jwt:sub"
refused() { # WHAT JWT
	[ "$(post "$EST/bearer/simpleenroll" "Bearer $2" r.txt)" = 401 ] || fail "$1 was accepted"
	grep_all -i 'error="invalid_token"' r.txt.h || fail "$1: no invalid_token"
}
refused "expired" "$(jwt jwt-rsa.key RS256 '{"iss":"https://idp.example","aud":"est","sub":"d","exp":'$((NOW - 120))'}')"
refused "no exp" "$(jwt jwt-rsa.key RS256 '{"iss":"https://idp.example","aud":"est","sub":"d"}')"
refused "not yet valid" "$(jwt jwt-rsa.key RS256 '{"iss":"https://idp.example","aud":"est","sub":"d","nbf":'$((NOW + 3600))',"exp":'$((NOW + 7200))'}')"
refused "another issuer" "$(jwt jwt-rsa.key RS256 '{"iss":"https://evil.example","aud":"est","sub":"d","exp":'$((NOW + 600))'}')"
refused "another audience" "$(jwt jwt-rsa.key RS256 '{"iss":"https://idp.example","aud":"other","sub":"d","exp":'$((NOW + 600))'}')"
refused "another key" "$(jwt other.key RS256 "$good")"
refused "ES256 under an RSA key" "$(jwt jwt-ec.key ES256 "$good")"
none=$(python3 -c 'import base64,json,sys;b=lambda d:base64.urlsafe_b64encode(d).rstrip(b"=").decode();print(b(b"{\"alg\":\"none\"}")+"."+b(sys.argv[1].encode())+".")' "$good")
refused "alg none" "$none"
tampered=$(echo "$J" | awk -F. '{print $1"."$2"x."$3}')
refused "a tampered payload" "$tampered"
ok "JWTs refused: expired, no exp, nbf ahead, other iss, other aud, other key, wrong alg, alg none, tampered"

# bearer-jwt-max-lifetime (86400 s by default): a JWT cannot be revoked, so one made
# to last longer is refused (a year, or an exp of 1e300, enrolled before).
claims() { echo '{"iss":"https://idp.example","aud":"est","sub":"d",'"$1"'}'; }
refused "exp a year ahead, no iat" "$(jwt jwt-rsa.key RS256 "$(claims '"exp":'$((NOW + 366 * 86400)))")"
refused "exp 1e300" "$(jwt jwt-rsa.key RS256 "$(claims '"exp":1e300')")"
refused "exp - iat over a day" "$(jwt jwt-rsa.key RS256 "$(claims '"iat":'$((NOW - 86400))',"exp":'$((NOW + 600)))")"
refused "iat not a number" "$(jwt jwt-rsa.key RS256 "$(claims '"iat":"now","exp":'$((NOW + 600)))")"
grep_all 'reason="JWT valid for longer than bearer-jwt-max-lifetime (86400 s)"' "$T/estd.log" || fail "no lifetime reason in the log"
[ "$(post "$EST/bearer/simpleenroll" "Bearer $(jwt jwt-rsa.key RS256 "$(claims '"iat":'"$NOW"',"exp":'$((NOW + 86400)))")" day.p7)" = 200 ] ||
    fail "a JWT valid for exactly a day: $(cat day.p7)"
ok "bearer-jwt-max-lifetime: exp more than a day after iat or now refused; a day exactly enrols"

# ES256 keys: the JWS r||s signature is checked too.
stop_estd
sed -i 's/^bearer-jwt-key = jwt-rsa.pub$/bearer-jwt-key = jwt-ec.pub\nbearer-jwt-max-lifetime = 0/' var/estd.conf
start_estd
[ "$(post "$EST/bearer/simpleenroll" "Bearer $(jwt jwt-ec.key ES256 "$good")" es.p7)" = 200 ] || fail "ES256 JWT: $(cat es.p7)"
refused "RS256 under an EC key" "$J"
ok "ES256 JWT verified against an EC P-256 key"
[ "$(post "$EST/bearer/simpleenroll" "Bearer $(jwt jwt-ec.key ES256 "$(claims '"exp":'$((NOW + 366 * 86400)))")" year.p7)" = 200 ] ||
    fail "bearer-jwt-max-lifetime = 0 refused a JWT valid for a year: $(cat year.p7)"
ok "bearer-jwt-max-lifetime = 0: no limit"

# estclient --auth-token sends it (in answer to the challenge).
export EST_OPENSSL_CACERT=$TA
T2=$("$ESTADM" -c var/estd.conf token add cli 2>/dev/null)
ec -e -s 127.0.0.1 -p $TLS_PORT --path-seg bearer -o . --auth-token "$T2" --common-name tokdev
expect_rc 0 "estclient --auth-token against authentication = bearer"

# A configuration with a JWT key but no issuer is refused at load.
sed '/^bearer-jwt-issuer/d' var/estd.conf > bad.conf
if "$ESTD" -c bad.conf -n > bad.txt 2>&1; then fail "bearer-jwt-key without issuer accepted"; fi
grep_all 'bearer-jwt-key needs bearer-jwt-issuer' bad.txt || fail "unclear: $(cat bad.txt)"
ok "bearer-jwt-key without bearer-jwt-issuer: refused at load"

# A key whose tokens would be weak or not ES256 as RFC 7518 means it: refused at load
# (a 1024-bit RSA key, an EC key on secp256k1, which ES256 accepted before).
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout > weak.pub
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 2>/dev/null | openssl pkey -pubout > k1.pub
for key in weak.pub k1.pub; do
	sed "s/^bearer-jwt-key = .*/bearer-jwt-key = $key/" var/estd.conf > bad.conf
	if "$ESTD" -c bad.conf -n > bad.txt 2>&1; then fail "bearer-jwt-key $key accepted"; fi
	grep_all 'bearer-jwt-key must be an RSA key of at least 2048 bits' bad.txt || fail "unclear: $(cat bad.txt)"
done
ok "a 1024-bit RSA or a secp256k1 bearer-jwt-key: refused at load"

finish
