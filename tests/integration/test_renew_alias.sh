#!/usr/bin/env bash
# Where and how a certificate renews (EST-S-50): through the alias that
# issued it, and a certificate of an end entity under the entity's own
# profile. Aliases of one CA differ in profile, approval and renewal rules:
# renewed through another, or under the alias's profile, a 10-minute
# certificate of an end entity registered with a short profile came back
# valid for a year.
. "$(dirname "$0")/lib.sh"

init_demo
cat >> "$T/var/estd.conf" <<'CONF'

[profile short]
validity-seconds = 600

[alias other]
mode = ra
ca = ManagementCA
profile = tls-client
authentication = http, certificate
CONF
start_estd
cd "$T"
ADM=("$ESTADM" -c "$T/var/estd.conf")

# expires_soon PEM: whether it expires within 700 s (the short profile: 600).
expires_soon() { ! openssl x509 -in "$1" -noout -checkend 700 >/dev/null; }

"${ADM[@]}" ee add --username shorty --dn "CN=shorty" --alias est --profile short \
	--password - <<< shortcode1 >/dev/null
code_csr shorty shorty shortcode1
st=$(post_csr simpleenroll shorty.b64 shorty.p7 "$EST/simpleenroll")
[ "$st" = 200 ] || fail "shorty's enrolment: $st $(cat shorty.p7)"
p7_to_pem shorty.p7 shorty.pem
expires_soon shorty.pem || fail "shorty's certificate: $(openssl x509 -in shorty.pem -noout -enddate)"
ok "an end entity of profile short gets a 10-minute certificate"

# The attacker's try first: another alias of the same CA, with its year-long profile.
openssl req -new -key shorty.key -subj /CN=shorty -outform DER -out renew.der
st=$(post_csr simplereenroll renew.der other.txt --cert shorty.pem --key shorty.key \
	"$MEST/other/simplereenroll")
[ "$st" = 403 ] || fail "shorty renewed through alias other: $st $(cat other.txt)"
grep_all "issued through alias est: renew it there" other.txt || fail "the 403 says: $(cat other.txt)"
ok "renewal through another alias of the CA: 403, naming the alias that issued it"

st=$(post_csr simplereenroll renew.der renew.p7 --cert shorty.pem --key shorty.key \
	"$MEST/simplereenroll")
[ "$st" = 200 ] || fail "shorty's renewal: $st $(cat renew.p7)"
p7_to_pem renew.p7 renew.pem
expires_soon renew.pem || fail "the renewal is not the profile's 600 s: $(openssl x509 -in renew.pem -noout -enddate)"
ok "renewal through its own alias keeps the end entity's profile (10 minutes)"
finish
