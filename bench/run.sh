#!/usr/bin/env bash
# Enrolment throughput and server cost, against the crypto floor.
#
#   bench/run.sh [THREADS] [SECONDS]      (defaults 4 and 15)
#
# Starts a demo estd (its own directory, kernel-chosen ports, the machine's
# default worker count), enrols one client certificate, then lets THREADS
# client threads POST /simpleenroll over mutual TLS, a fresh TLS connection
# per enrolment, for SECONDS. Reports enrolments per second, latency, estd's
# CPU time per enrolment and its peak memory, and the crypto floor measured
# with `openssl speed` on this machine in the same run: per enrolment the
# server must do one TLS key exchange, one handshake signature, one client
# certificate check, one CSR signature check and one certificate signature.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-4}
seconds=${2:-15}
make -s build >/dev/null
B=build
T=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

"$B/estadm" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
sed -i 's/^log-level = info/log-level = warn/' "$T/var/estd.conf"
"$B/estd" -c "$T/var/estd.conf" --ready-file "$T/ready" 2>"$T/estd.log" &
pid=$!
for _ in $(seq 100); do [ -f "$T/ready" ] && break; sleep 0.1; done
tls=$(awk '$1=="tls"{print $2}' "$T/ready")
mtls=$(awk '$1=="mtls"{print $2}' "$T/ready")
ca="$T/var/ca.pem"

# One enrolled identity for the load, and one CSR (the server does not mind
# certifying the same key again: the measurement is the server's work).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dev.key" \
	-subj /CN=bench-device -outform DER -out "$T/dev.der" 2>/dev/null
openssl base64 -in "$T/dev.der" -out "$T/dev.b64"
curl -sf --cacert "$ca" --digest -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
	--data-binary @"$T/dev.b64" -o "$T/dev.p7" "https://127.0.0.1:$tls/.well-known/est/simpleenroll"
openssl base64 -d -in "$T/dev.p7" | openssl pkcs7 -inform DER -print_certs -out "$T/dev.pem"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
before=$(cpu_ticks)
result=$("$B/enroll_load" "https://127.0.0.1:$mtls/.well-known/est/simpleenroll" "$ca" \
	"$T/dev.pem" "$T/dev.key" "$T/dev.b64" "$threads" "$seconds")
after=$(cpu_ticks)
ok=$(echo "$result" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
hwm=$(awk '/VmHWM/{print $2" "$3}' "/proc/$pid/status")
workers=$(nproc)

# Crypto floor: single-core cost of the operations one enrolment needs.
speed=$(openssl speed -seconds 2 ecdsap256 ecdhx25519 2>/dev/null)
sign=$(echo "$speed" | awk '/256 bits ecdsa \(nistp256\)/{print $(NF-1)}')
verify=$(echo "$speed" | awk '/256 bits ecdsa \(nistp256\)/{print $NF}')
ecdh=$(echo "$speed" | awk '/253 bits ecdh \(X25519\)/{print $NF}')

awk -v ok="$ok" -v ticks="$((after - before))" -v hz="$hz" -v s="$sign" -v v="$verify" \
    -v x="$ecdh" -v res="$result" -v hwm="$hwm" -v th="$threads" -v w="$workers" 'BEGIN {
	floor = 2 * 1000 / s + 2 * 1000 / v + 2 * 1000 / x
	cpu = ok > 0 ? ticks * 1000 / hz / ok : 0
	printf "estd bench: %d client threads, %d estd workers, EC P-256 keys, TLS 1.3\n", th, w
	printf "  load:   %s\n", res
	printf "  estd:   %.2f ms CPU per enrolment, peak RSS %s\n", cpu, hwm
	printf "  floor:  %.2f ms per enrolment (openssl speed: 2 ECDSA P-256 signs, 2 verifies, 2 X25519 ops)\n", floor
	printf "  ratio:  %.1fx the crypto floor\n", cpu / floor
}'
