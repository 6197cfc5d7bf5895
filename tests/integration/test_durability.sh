#!/usr/bin/env bash
# Crash durability: 1,000 enrolments from several concurrent clients while
# estd is killed with SIGKILL at random moments and restarted. Every
# certificate a client received must be in the store, valid, with the same
# bytes; the store must open cleanly after every kill; and no one-time
# enrolment code is spent without its certificate on record, or twice.
. "$(dirname "$0")/lib.sh"

TARGET=${DURABILITY_ENROLMENTS:-1000}
CLIENTS=2          # HTTP Digest clients
CODE_CLIENTS=2     # clients spending one-time enrolment codes
DEVICES=300        # registered end entities, one one-time code each

init_demo
# Lost answers make clients retry spent codes: that is not guessing.
sed -i 's/^realm = estkit/realm = estkit\nauth-fail-limit = 0/' "$T/var/estd.conf"
start_estd
# Restarts must come back on the same ports, so pin what the kernel chose.
sed -i -e "/^\[listener http\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$HTTP_PORT/" \
    -e "/^\[listener tls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$TLS_PORT/" \
    -e "/^\[listener mtls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$MTLS_PORT/" "$T/var/estd.conf"
cd "$T"
mkcsr dev
mkdir received
for i in $(seq $DEVICES); do
	code="code-$i-$RANDOM"
	echo "dev$i $code" >> codes.txt
	"$ESTADM" -c "$T/var/estd.conf" ee add --username "dev$i" --dn "CN=dev$i" --alias est \
	    --password - <<< "$code" > /dev/null
done
ok "$DEVICES end entities registered with one-time codes"

# client N: enrol until the stop file exists; keep every certificate received.
client() {
	local n=$1 i=0 status
	while [ ! -f stop ]; do
		i=$((i + 1))
		status=$(curl -s -o "c$n-$i.p7" -w '%{http_code}' --max-time 10 --cacert "$TA" --digest \
		    -u estuser:estpwd -H 'Content-Type: application/pkcs10' --data-binary @dev.b64 \
		    "$EST/simpleenroll" 2>/dev/null) || status=000
		if [ "$status" = 200 ]; then mv "c$n-$i.p7" received/; else rm -f "c$n-$i.p7"; fi
	done
}
# code client N: enrol the devices of its share once each, with their codes.
# A 401 means the code was spent by an attempt whose answer the kill lost.
code_client() {
	local n=$1 i status code
	for i in $(seq "$n" "$CODE_CLIENTS" "$DEVICES"); do
		[ -f stop ] && break
		code=$(sed -n "s/^dev$i //p" codes.txt)
		printf '[req]\ndistinguished_name=d\nattributes=r\nprompt=no\n[d]\nCN=dev%s\n[r]\nchallengePassword=%s\n' \
		    "$i" "$code" > "cc$n.cnf"
		openssl req -new -key dev.key -config "cc$n.cnf" -outform DER -out "cc$n.der"
		for _ in 1 2 3 4 5; do
			status=$(curl -s -o "cc$n.p7" -w '%{http_code}' --max-time 10 --cacert "$TA" \
			    -H 'Content-Type: application/pkcs10' --data-binary @"cc$n.der" \
			    "$EST/simpleenroll" 2>/dev/null) || status=000
			case $status in
			200) mv "cc$n.p7" "received/code-dev$i.p7"; break ;;
			000) sleep 0.2 ;;   # estd is restarting
			*) break ;;
			esac
		done
	done
}
pids=()
for n in $(seq $CLIENTS); do client "$n" & pids+=($!); done
for n in $(seq $CODE_CLIENTS); do code_client "$n" & pids+=($!); done

# Kill at a random moment once a random number (5-24) of enrolments more
# have been received, so every round makes progress however slow the build.
kills=0
while [ "$(ls received | wc -l)" -lt "$TARGET" ]; do
	want=$(( $(ls received | wc -l) + 5 + RANDOM % 20 ))
	for _ in $(seq 600); do
		[ "$(ls received | wc -l)" -ge "$want" ] && break
		sleep 0.05
	done
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
	kill -KILL "$ESTD_PID"
	wait "$ESTD_PID" 2>/dev/null || true
	kills=$((kills + 1))
	start_estd "$T/var/estd.conf"
	[ $kills -lt 300 ] || fail "only $(ls received | wc -l) enrolments after 300 restarts"
done
touch stop
wait "${pids[@]}"
got=$(ls received | wc -l)
ok "$got enrolments received by $((CLIENTS + CODE_CLIENTS)) clients across $kills SIGKILLs and restarts"

# Every received certificate is on record and valid; the first 50 are
# compared byte for byte with the stored copy.
"$ESTADM" -c "$T/var/estd.conf" cert list > list.txt || fail "the store does not open after the kills"
missing=0
checked=0
for f in received/*.p7; do
	b64d < "$f" | openssl pkcs7 -inform DER -print_certs -out cert.pem
	serial=$(openssl x509 -in cert.pem -noout -serial | cut -d= -f2)
	if ! grep -q "^$serial .*valid" list.txt; then
		missing=$((missing + 1))
		echo "missing from the store: $serial ($f)"
		continue
	fi
	checked=$((checked + 1))
	[ $checked -le 50 ] || continue
	"$ESTADM" -c "$T/var/estd.conf" cert show "$serial" | openssl x509 -noout -fingerprint -sha256 > stored.fp
	openssl x509 -in cert.pem -noout -fingerprint -sha256 | cmp -s - stored.fp || {
		missing=$((missing + 1)); echo "stored certificate differs: $serial"; }
done
[ $missing -eq 0 ] || fail "$missing received certificates are not on record"
ok "all $got received certificates are on record and valid; 50 compared byte for byte"
stored=$(($(wc -l < list.txt) - 2))   # minus the header and the TLS certificate
[ "$stored" -ge "$got" ] || fail "store holds $stored enrolment certificates, fewer than $got received"
ok "store holds $stored enrolment certificates ($((stored - got)) recorded but never received: killed before the answer)"

# One-time codes: spent exactly when one certificate is linked to the device.
spent=0
for i in $(seq $DEVICES); do
	"$ESTADM" -c "$T/var/estd.conf" ee show "dev$i" > ee.txt
	uses=$(sed -n 's/^uses left: *//p' ee.txt)
	certs=$(sed -n '/^certificates:/,$p' ee.txt | grep -cE '[0-9A-F]{16,} ') || true
	case "$uses" in
	0) [ "$certs" = 1 ] || fail "dev$i: code spent with $certs certificates on record"; spent=$((spent + 1)) ;;
	1) [ "$certs" = 0 ] || fail "dev$i: $certs certificates on record but the code is unspent" ;;
	*) fail "dev$i: uses left '$uses'" ;;
	esac
	if [ -f "received/code-dev$i.p7" ]; then
		b64d < "received/code-dev$i.p7" | openssl pkcs7 -inform DER -print_certs -out c.pem
		serial=$(openssl x509 -in c.pem -noout -serial | cut -d= -f2 | sed 's/^0*//')
		grep -q "$serial" ee.txt || fail "dev$i received $serial, which is not linked to it"
	fi
done
ok "$spent one-time codes spent, each with exactly one certificate on record; unspent ones with none"

finish
