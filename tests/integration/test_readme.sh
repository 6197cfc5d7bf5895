#!/usr/bin/env bash
# README.md runs as written (issue 18): every ```sh block, in order, in a
# fresh directory laid out like a clone (build/, tests/), against a demo
# started the way `make run` starts it (scripts/run-demo.sh). Lines marked
# "interactive" (make run, make check) are the only ones left out. The
# README's fixed ports 8080/8442/8443 become the ones the kernel gave this
# demo (ESTKIT_DEMO_PORTS="0 0 0"), and the EJBCA guide's
# /tmp/ManagementCA.cacert.pem a file of this test, so parallel runs do not
# collide; nothing else is changed.
. "$(dirname "$0")/lib.sh"

README="$ESTKIT_SRC/README.md"
C="$T/clone"
mkdir "$C"
ln -s "$ESTKIT_BIN" "$C/build"
ln -s "$ESTKIT_SRC/tests" "$C/tests"
(cd "$C" && ESTKIT_DEMO_PORTS="0 0 0" exec "$ESTKIT_SRC/scripts/run-demo.sh" build var --ready-file "$T/ready") \
    > "$T/estd.log" 2>&1 &
ESTD_PID=$!
for _ in $(seq 100); do
	[ -f "$T/ready" ] && break
	kill -0 "$ESTD_PID" 2>/dev/null || fail "the demo did not start: $(tail -n 5 "$T/estd.log")"
	sleep 0.1
done
[ -f "$T/ready" ] || fail "the demo did not become ready in 10 s"
HTTP_PORT=$(awk '$1=="http"{print $2}' "$T/ready")
TLS_PORT=$(awk '$1=="tls"{print $2}' "$T/ready")
MTLS_PORT=$(awk '$1=="mtls"{print $2}' "$T/ready")
grep_all '^estd is starting with var/estd.conf' "$T/estd.log" || fail "no banner: $(head "$T/estd.log")"
ok "the demo runs as make run starts it (ports $HTTP_PORT $TLS_PORT $MTLS_PORT)"

awk '/^```sh$/ { on = 1; n++; print "# ---- block " n; next } /^```/ { on = 0; next }
     on && !/# interactive/ { print }' "$README" > "$T/blocks.sh"
[ "$(grep -c '^# ---- block' "$T/blocks.sh")" -ge 15 ] || fail "too few sh blocks found in README.md"
grep_all -E '^(make|\./|estadm|estd|estclient) ' "$T/blocks.sh" && fail "a README line calls a program not as build/...: $(grep -E '^(make|\./|estadm|estd|estclient) ' "$T/blocks.sh")"
sed -e "s/\\b8080\\b/$HTTP_PORT/g" -e "s/\\b8442\\b/$TLS_PORT/g" -e "s/\\b8443\\b/$MTLS_PORT/g" \
    -e "s|/tmp/ManagementCA.cacert.pem|$T/ManagementCA.cacert.pem|g" "$T/blocks.sh" > "$T/readme.sh"
ok "README.md: $(grep -c '^# ---- block' "$T/blocks.sh") sh blocks, every program called as build/..."

rc=0
(cd "$C" && bash -e -o pipefail -x "$T/readme.sh") > "$T/readme.out" 2>&1 || rc=$?
if [ $rc != 0 ]; then
	tail -n 30 "$T/readme.out"
	fail "README.md's blocks stopped with status $rc (above: the last lines, + are the commands)"
fi
ok "every sh block of README.md ran as written, in order"

out="$T/readme.out"
# curl only warns about a missing @file and posts an empty body (a block once
# posted a sensor.b64 that no step made), so its warnings fail the test.
grep_all -E "^Warning: (Couldn't|Failed to)" "$out" && fail "a README command read a file no step made: $(grep -E '^Warning: ' "$out")"
grep_all '^subject=CN = sensor-17.example.com$' "$out" || fail "the RA enrolment got no certificate"
[ "$(grep -cx '403' "$out")" = 2 ] || fail "the two renewals after a revocation did not print 403: $(grep -x '[0-9][0-9][0-9]' "$out")"
[ "$(grep -cx '401' "$out")" = 1 ] || fail "the spent code did not print 401"
grep_all '^HTTP/1.1 202' "$out" && grep_all '^Retry-After: 5' "$out" || fail "the approval alias did not answer 202"
grep_all '^subject=CN = held-device$' "$out" || fail "the approved retry got no certificate"
grep_all '^subject=CN = 123456789$' "$out" || fail "the EC enrolment after ee reset got no certificate"
grep_all '^subject=C = SE, O = PrimeKey, CN = 1234.primekey.com$' "$out" || fail "the vendor renewal got no certificate: $(grep "^subject=" "$out")"
grep_all '^cert.pem: revoked$' "$out" && grep_all '^refused: revoked$' "$out" ||
    fail "OCSP and the CRL did not show the revocation"
grep_all 'RSA key ok' "$out" || fail "the serverkeygen key did not check"
grep_all '^estd: var/estd.conf is valid$' "$out" || fail "estd -n failed while the demo runs"
for f in cert.pem renewed.p7 sensor.p7 device-cert.pem device-ec-cert.pem device-new-cert.pem enrolled-key.key \
    device-keypair2 certs/cacert-0-0.pem certs/cert-0-0.pem; do
	[ -s "$C/$f" ] || fail "README's blocks did not produce $f"
done
ok "their results: revoked renewals 403, a spent code 401, manual approval 202 then a certificate, EC, vendor and serverkeygen certificates, estclient's files"

finish
