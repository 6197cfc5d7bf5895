#!/usr/bin/env bash
# Crash durability: 1,000 enrolments from several concurrent clients while
# estd is killed with SIGKILL at random moments and restarted. Every
# certificate a client received must be in the store, valid, with the same
# bytes; the store must open cleanly after every kill.
. "$(dirname "$0")/lib.sh"

TARGET=${DURABILITY_ENROLMENTS:-1000}
CLIENTS=4

init_demo
start_estd
# Restarts must come back on the same ports, so pin what the kernel chose.
sed -i -e "/^\[listener http\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$HTTP_PORT/" \
    -e "/^\[listener tls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$TLS_PORT/" \
    -e "/^\[listener mtls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$MTLS_PORT/" "$T/var/estd.conf"
cd "$T"
mkcsr dev
mkdir received

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
pids=()
for n in $(seq $CLIENTS); do client "$n" & pids+=($!); done

kills=0
while [ "$(ls received | wc -l)" -lt "$TARGET" ]; do
	sleep "0.$((RANDOM % 7 + 2))"
	kill -KILL "$ESTD_PID"
	wait "$ESTD_PID" 2>/dev/null || true
	kills=$((kills + 1))
	start_estd "$T/var/estd.conf"
	[ $kills -lt 200 ] || fail "only $(ls received | wc -l) enrolments after 200 restarts"
done
touch stop
wait "${pids[@]}"
got=$(ls received | wc -l)
ok "$got enrolments received by $CLIENTS clients across $kills SIGKILLs and restarts"

# Every received certificate is on record and valid; the first 50 are
# compared byte for byte with the stored copy.
"$ESTADM" -c "$T/var/estd.conf" cert list > list.txt || fail "the store does not open after the kills"
missing=0
checked=0
for f in received/*.p7; do
	b64d < "$f" | openssl pkcs7 -inform DER -print_certs -out cert.pem
	serial=$(openssl x509 -in cert.pem -noout -serial | cut -d= -f2 | sed 's/^0*//')
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

finish
