#!/usr/bin/env bash
# The small surprises of a newcomer's first hour (issue 18): serials shown
# the way openssl prints them (by estadm and in estd's log) and taken in
# either form; ee reset
# --no-password says what it did; range errors name the range; a renewal on
# the TLS-only port is told which port to use.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
AUTH=(--anyauth -u estuser:estpwd)

# Serials are random: enrol until one has a leading zero nibble, which the
# store's form drops and openssl's keeps (1 in 16 per certificate).
mkcsr dev
found=
for i in $(seq 200); do
	[ "$(post_csr simpleenroll dev.csr c.p7 "${AUTH[@]}" "$EST/simpleenroll")" = 200 ] || fail "enrolment: $(cat c.p7)"
	p7_to_pem c.p7 c.pem
	serial=$(openssl x509 -in c.pem -noout -serial | cut -d= -f2)
	case $serial in 0*) found=yes; break ;; esac
done
[ -n "$found" ] || fail "no serial with a leading zero in 200 certificates"
short=${serial#0}
"$ESTADM" -c var/estd.conf cert list > list.txt
grep_all "^$serial " list.txt || fail "cert list does not show $serial as openssl prints it: $(cat list.txt)"
for form in "$serial" "$short" "$(tr 'A-F' 'a-f' <<< "$short")" "0x$serial"; do
	"$ESTADM" -c var/estd.conf cert list --serial "$form" > one.txt
	[ "$(wc -l < one.txt)" = 2 ] && grep_all "^$serial " one.txt || fail "cert list --serial $form: $(cat one.txt)"
	"$ESTADM" -c var/estd.conf cert show "$form" | grep_all "^serial: *$serial$" || fail "cert show $form"
done
ok "serial $serial: cert list shows it as openssl x509 -serial does; --serial and cert show take either form"
# estd's own lines name it the same way, and so does a principal of that certificate.
[ "$(post_csr simplereenroll dev.csr r.p7 --cert c.pem --key dev.key "$MEST/simplereenroll")" = 200 ] ||
    fail "renewal: $(cat r.p7)"
grep_all "issued serial=$serial " estd.log || fail "the issued line does not name $serial: $(grep 'issued serial' estd.log | tail -n 1)"
grep_all "op=simpleenroll .*status=200 .*serial=$serial$" estd.log || fail "the access line does not name $serial"
grep_all "op=simplereenroll principal=cert:$serial status=200 " estd.log ||
    fail "the renewal's principal is not cert:$serial: $(grep 'op=simplereenroll' estd.log)"
ok "estd's log names serial $serial and principal cert:$serial as openssl prints them"
out=$("$ESTADM" -c var/estd.conf cert revoke "$short")
[ "$(head -n 1 <<< "$out")" = "revoked $serial (unspecified)" ] || fail "cert revoke said: $out"
# Then one line on the CRL that now lists it (issue 15), nothing more.
[ "$(wc -l <<< "$out")" = 2 ] && grep_all '^CRL number [0-9]* of CA .* lists it' <<< "$out" ||
    fail "cert revoke said: $out"
ok "cert revoke names the serial as openssl prints it"

rc=0; "$ESTADM" -c var/estd.conf cert list --serial 'zz;drop' > bad.txt 2>&1 || rc=$?
[ $rc = 2 ] && grep_all 'is not a serial number' bad.txt || fail "a bad --serial: exit $rc: $(cat bad.txt)"
"$ESTADM" -c var/estd.conf cert list --serial 1 > none.txt
[ "$(wc -l < none.txt)" = 1 ] || fail "an unknown serial listed something: $(cat none.txt)"
ok "cert list --serial: a non-hex value is a usage error, an unknown one lists nothing"

"$ESTADM" -c var/estd.conf ee add --username dev9 --dn CN=dev9 --alias est --password - <<< x1 > /dev/null
out=$("$ESTADM" -c var/estd.conf ee reset dev9 --no-password)
[ "$out" = "reset dev9: enrols again without a code (its name alone admits it)" ] || fail "ee reset --no-password said: $out"
out=$("$ESTADM" -c var/estd.conf ee reset dev9 --password - <<< x2)
[ "$out" = "reset dev9: new enrolment code" ] || fail "ee reset --password said: $out"
ok "ee reset says whether the end entity has a new code or none"

sed 's/^validity-days = 365$/validity-days = 0/' var/estd.conf > bad.conf
rc=0; out=$("$ESTD" -n -c bad.conf 2>&1) || rc=$?
[ $rc = 1 ] && grep_all 'validity-days.*a whole number from 1 to 3650' <<< "$out" || fail "validity-days 0: $out"
sed 's/^validity-days = 365$/validity-days = 99999/' var/estd.conf > bad.conf
rc=0; out=$("$ESTD" -n -c bad.conf 2>&1) || rc=$?
[ $rc = 1 ] && grep_all 'a whole number from 1 to 3650' <<< "$out" || fail "validity-days 99999: $out"
ok "validity-days out of range: the error names the range 1 to 3650"

status=$(post_csr simplereenroll dev.csr re.txt "$EST/simplereenroll")
[ "$status" = 403 ] || fail "reenroll on the TLS-only port: $status"
grep_all "renew on port $MTLS_PORT (listener mtls)" re.txt || fail "no port advice: $(cat re.txt)"
grep_all "renew on port $MTLS_PORT" estd.log || fail "the log lacks the advice"
ok "/simplereenroll on the TLS-only port: 403 saying to renew on port $MTLS_PORT"

# init's last line is a command that runs as printed: estd beside the estadm
# that was called (build/estd from a build; a bare estd is not on PATH then).
"$ESTADM" init "$T/hint" --http-port 0 --tls-port 0 --mtls-port 0 > hint.out
grep_all "^start the server: $(dirname "$ESTADM")/estd -c $T/hint/estd.conf\$" hint.out ||
	fail "init's hint does not name the estd beside estadm: $(tail -n 1 hint.out)"
ok "estadm init says how to start the estd beside it"

# The default is the build's SYSCONFDIR/estkit/estd.conf, as --help prints it.
default_conf=$("$ESTADM" --help | sed -n 's|^ *\(/.*/estkit/estd\.conf\))$|\1|p')
[ -n "$default_conf" ] || fail "estadm --help names no default configuration"
if [ ! -e "$default_conf" ]; then
	rc=0; out=$(env -u ESTD_CONF "$ESTADM" ee show dev9 2>&1) || rc=$?
	[ $rc = 1 ] && grep_all "cannot open $default_conf.*(name the configuration with -c, e.g. estadm -c var/estd.conf" <<< "$out" \
	    || fail "estadm without -c: $out"
	ok "estadm without -c and no $default_conf says to name one with -c"
fi

finish
