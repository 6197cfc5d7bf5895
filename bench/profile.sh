#!/usr/bin/env bash
# Instructions per enrolment, for before/after comparisons on a shared
# machine (wall clock is noise there; instruction counts are not).
#
#   bench/profile.sh [BUILD_DIR] [N]
#
# Runs a demo estd (one worker) under valgrind --tool=callgrind, zeroes the
# counters once it is ready, sends N enrolments (default 200) in each of
# three scenarios -- keep-alive HTTP Basic, a new TLS connection with a
# client certificate per enrolment, and the same with the TLS session
# resumed -- and prints the instructions estd
# executed per enrolment in each, with the 40 functions that cost most
# (inclusive). The callgrind files stay in BUILD_DIR/profile/ for
# callgrind_annotate or kcachegrind.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
n=${2:-200}
P="$B/profile"
pid=

cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

rm -rf "$P" && mkdir -p "$P"
"$B/estadm" init "$P/var" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
sed -i 's/^log-level = info/log-level = warn/; s/^\[server\]$/[server]\nworkers = 1/' "$P/var/estd.conf"
valgrind --tool=callgrind --callgrind-out-file="$P/callgrind.%p.%n" \
	"$B/estd" -c "$P/var/estd.conf" --ready-file "$P/ready" 2>"$P/valgrind.log" &
pid=$!
for _ in $(seq 600); do [ -f "$P/ready" ] && break; sleep 0.1; done
[ -f "$P/ready" ] || { echo "profile: estd did not start under valgrind" >&2; exit 1; }
tls=$(awk '$1=="tls"{print $2}' "$P/ready")
mtls=$(awk '$1=="mtls"{print $2}' "$P/ready")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$P/dev.key" \
	-subj /CN=profile-device -outform DER -out "$P/dev.der" 2>/dev/null
openssl base64 -in "$P/dev.der" -out "$P/dev.b64"
curl -sf --cacert "$P/var/ca.pem" -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
	--data-binary @"$P/dev.b64" -o "$P/dev.p7" "https://127.0.0.1:$tls/.well-known/est/simpleenroll"
openssl base64 -d -in "$P/dev.p7" | openssl pkcs7 -inform DER -print_certs -out "$P/dev.pem"

# scenario NAME estbench-args...: zero, load, dump, report.
scenario() {
	local name=$1 dump ir; shift
	# Warm up (connections, the password cache), then count from zero.
	"$B/estbench" --cacert "$P/var/ca.pem" -n 8 -c 4 --timeout 120 "$@" >/dev/null ||
		{ echo "profile: $name: the warm-up failed" >&2; exit 1; }
	callgrind_control -z "$pid" >/dev/null
	"$B/estbench" --cacert "$P/var/ca.pem" -n "$n" -c 4 --timeout 120 -l "$name" "$@" >"$P/$name.out" ||
		{ echo "profile: $name: $(tail -n 3 "$P/$name.out")" >&2; exit 1; }
	callgrind_control -d "$name" "$pid" >/dev/null
	dump=$(ls -t "$P"/callgrind.*.* | head -n 1)
	mv "$dump" "$P/callgrind.$name"
	ir=$(awk '/^(summary|totals):/{print $2; exit}' "$P/callgrind.$name")
	printf '%s: %s instructions per enrolment (%d enrolments)\n' "$name" $((ir / n)) "$n"
	callgrind_annotate --inclusive=yes "$P/callgrind.$name" 2>/dev/null |
		awk '/^-+$/{s++; next} s>=3 && NF && n++ < 40' | cut -c1-150 || true
}

scenario basic-keepalive -u estuser:estpwd "https://127.0.0.1:$tls"
scenario cert-new --cert "$P/dev.pem" --key "$P/dev.key" --connection new "https://127.0.0.1:$mtls"
scenario cert-resume --cert "$P/dev.pem" --key "$P/dev.key" --connection resume "https://127.0.0.1:$mtls"
