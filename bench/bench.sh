#!/usr/bin/env bash
# The enrolment benchmark behind `make bench` (docs/performance.md).
#
#   bench/bench.sh [BUILD_DIR]
#
# Starts a fresh demo estd (its store on disk, in BUILD_DIR/bench-var), then
# runs bench/estbench over the matrix {ec-p256, rsa-2048} CSRs x {keep-alive
# HTTP Basic on the TLS listener, a new TLS connection per enrolment with a
# client certificate on the mutual-TLS listener} x concurrency {1, 8, 64};
# then, at concurrency 64 with EC P-256, the same two scenarios against a
# copy of the server whose store is on tmpfs (/dev/shm), each right after
# the run on disk, and keep-alive Basic saturated then paced at 80% of that
# rate, for the latency there.
# Every run also measures the crypto floor with OpenSSL on this machine.
# Last, bench/work/work_bench times an enrolment's own work without I/O
# (docs/performance.md, "An enrolment's work without I/O").
# Writes bench/results/YYYY-MM-DD.json (one object; "runs" holds estbench's
# JSON lines) and prints the summary against the targets of issue 12.
#
# Environment: BENCH_SECONDS (per run, default 10), BENCH_CONCURRENCY
# (default "1 8 64"), BENCH_KEYS (default "ec-p256 rsa-2048").
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
seconds=${BENCH_SECONDS:-10}
concurrency=${BENCH_CONCURRENCY:-1 8 64}
keys=${BENCH_KEYS:-ec-p256 rsa-2048}
disk="$B/bench-var"
shm=/dev/shm/estkit-bench.$$
out="bench/results/$(date -u +%Y-%m-%d).json"
runs="$B/bench-runs.jsonl"
pids=()
# Before anything is written: the results file itself would make the tree dirty.
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$shm"
}
trap cleanup EXIT

# start_estd DIR: a demo estd in DIR; sets PID, TLS, MTLS.
start_estd() {
	local dir=$1
	rm -f "$dir/ready"
	"$B/estd" -c "$dir/estd.conf" --ready-file "$dir/ready" 2>>"$dir/estd.log" &
	PID=$!
	pids+=("$PID")
	for _ in $(seq 100); do [ -f "$dir/ready" ] && break; sleep 0.1; done
	[ -f "$dir/ready" ] || { echo "bench: estd did not start (see $dir/estd.log)" >&2; exit 1; }
	TLS=$(awk '$1=="tls"{print $2}' "$dir/ready")
	MTLS=$(awk '$1=="mtls"{print $2}' "$dir/ready")
}

# client_identity KEYTYPE: a client certificate of that key type, enrolled
# with the demo user (device-KEYTYPE.pem/.key in $disk).
client_identity() {
	local kt=$1 newkey
	case $kt in
	ec-p256) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
	rsa-2048) newkey=(-newkey rsa:2048) ;;
	esac
	openssl req -new "${newkey[@]}" -nodes -keyout "$disk/device-$kt.key" \
		-subj "/CN=bench-device-$kt" -outform DER -out "$disk/device-$kt.der" 2>/dev/null
	openssl base64 -in "$disk/device-$kt.der" -out "$disk/device-$kt.b64"
	curl -sf --cacert "$disk/ca.pem" -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
		--data-binary @"$disk/device-$kt.b64" -o "$disk/device-$kt.p7" \
		"https://127.0.0.1:$TLS/.well-known/est/simpleenroll"
	openssl base64 -d -in "$disk/device-$kt.p7" |
		openssl pkcs7 -inform DER -print_certs -out "$disk/device-$kt.pem"
}

# bench LABEL STORE KEYTYPE SCENARIO CONCURRENCY [estbench args...]
bench() {
	local label=$1 store=$2 kt=$3 scenario=$4 c=$5 line
	shift 5
	local args=(--cacert "$disk/ca.pem" -k "$kt" -c "$c" -d "$seconds" -p "$PID" --floor -l "$label")
	case $scenario in
	basic-keepalive) args+=(-u estuser:estpwd --connection keep-alive "https://127.0.0.1:$TLS") ;;
	cert-new) args+=(--cert "$disk/device-$kt.pem" --key "$disk/device-$kt.key" \
		--connection new "https://127.0.0.1:$MTLS") ;;
	esac
	# A failed request is reported in the figures, not fatal.
	"$B/estbench" "${args[@]}" "$@" >"$B/bench-last.txt" || true
	head -n -1 "$B/bench-last.txt" >&2
	line=$(tail -n 1 "$B/bench-last.txt")
	printf '{"store":"%s","scenario":"%s",%s\n' "$store" "$scenario" "${line#\{}" >>"$runs"
}

# field LABEL KEY: a number from the run labelled LABEL.
field() {
	grep "\"label\":\"$1\"" "$runs" | head -n 1 | sed -n "s/.*\"$2\":\\([0-9.]*\\).*/\\1/p"
}

make -s BUILD="$B" build >/dev/null
mkdir -p bench/results
rm -rf "$disk" && : >"$runs"
"$B/estadm" init "$disk" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
sed -i 's/^log-level = info/log-level = warn/' "$disk/estd.conf"
# Every client comes from 127.0.0.1: 64 new connections at once, plus those
# still closing, are over the default max-connections-per-address (64).
sed -i 's/^\[server\]$/[server]\nmax-connections-per-address = 1024/' "$disk/estd.conf"
start_estd "$disk"
for kt in $keys; do client_identity "$kt"; done

for kt in $keys; do
	for scenario in basic-keepalive cert-new; do
		for c in $concurrency; do
			bench "$kt/$scenario/c$c" disk "$kt" "$scenario" "$c"
		done
	done
done

# Is the disk the bound? A copy of the server with its store on tmpfs, at
# the highest concurrency, each run right after the same run on disk: on a
# shared machine the speed drifts over minutes, and only runs made back to
# back compare.
top=${concurrency##* }
first=${keys%% *}
kill "$PID"; wait "$PID" 2>/dev/null || true
cp -a "$disk" "$shm"
start_estd "$disk"
on_disk=("$PID" "$TLS" "$MTLS")
start_estd "$shm"
on_tmpfs=("$PID" "$TLS" "$MTLS")
use() { PID=$1 TLS=$2 MTLS=$3; }
for scenario in basic-keepalive cert-new; do
	use "${on_disk[@]}"
	bench "$first/$scenario/c$top/disk" disk "$first" "$scenario" "$top"
	use "${on_tmpfs[@]}"
	bench "$first/$scenario/c$top/tmpfs" tmpfs "$first" "$scenario" "$top"
done
kill "${on_tmpfs[0]}"; wait "${on_tmpfs[0]}" 2>/dev/null || true

# Latency at 80% of the rate keep-alive Basic saturated at just before, on disk.
use "${on_disk[@]}"
bench "$first/basic-keepalive/c$top/saturated" disk "$first" basic-keepalive "$top"
sat=$(field "$first/basic-keepalive/c$top/saturated" enrolments_per_s)
rate=$(awk -v s="$sat" 'BEGIN { r = s * 0.8; print (r < 1 ? 1 : r) }')
bench "$first/basic-keepalive/c$top/paced80" disk "$first" basic-keepalive "$top" -r "$rate"

# The enrolment's own work without I/O, estkit's way and OpenSSL's usual one
# (bench/work/work_bench.c), with only the idle disk server left running.
"$B/work_bench" -n 3000 >"$B/work-bench.txt"
head -n -1 "$B/work-bench.txt" >&2
work=$(tail -n 1 "$B/work-bench.txt")

{
	printf '{"date":"%s","commit":"%s","host":{"cpus":%s,"cpu":"%s","kernel":"%s","openssl":"%s"},' \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" \
		"$(nproc)" "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" "$(uname -r)" \
		"$(openssl version)"
	printf '"seconds_per_run":%s,%s,"runs":[' "$seconds" "${work:1:${#work}-2}"
	paste -sd, "$runs"
	printf ']}\n'
} >"$out"

# Summary against the targets.
awk -v top="$top" -v first="$first" '
function num(line, key,   m) {
	if (match(line, "\"" key "\":[0-9.]+")) return substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3) + 0
	return -1
}
{
	label = $0; sub(/.*"label":"/, "", label); sub(/".*/, "", label)
	rate[label] = num($0, "enrolments_per_s"); cpu[label] = num($0, "server_cpu_ms_per_enrolment")
	fl[label] = num($0, "floor_ms"); p99[label] = num($0, "p99"); hwm[label] = num($0, "server_hwm_kib")
	st[label] = num($0, "host_steal_pct"); stw[label] = num($0, "host_steal_worst_100ms_pct")
	order[n++] = label
}
END {
	printf "\n%-40s %10s %9s %9s %7s %9s %9s %11s\n", "run", "enrol/s", "p99 ms", "CPU ms", "floor", "x floor", "RSS MiB", "steal %"
	for (i = 0; i < n; i++) { l = order[i]
		printf "%-40s %10.1f %9.1f %9.3f %7.3f %9.2f %9.1f %5.1f/%-5.0f\n", l, rate[l], p99[l], cpu[l], fl[l], (fl[l] > 0 ? cpu[l] / fl[l] : 0), hwm[l] / 1024, st[l], stw[l] }
	printf "(steal %%: CPU time the host took, over the run / in its worst 100 ms)\n"
	ka = first "/basic-keepalive/c" top; cn = first "/cert-new/c" top
	printf "\ntargets (issue 12):\n"
	printf "  CPU <= 2x floor, keep-alive Basic c%s: %.2fx\n", top, cpu[ka] / fl[ka]
	printf "  CPU <= 2x floor, new-connection cert c%s: %.2fx\n", top, cpu[cn] / fl[cn]
	printf "  disk >= 85%% of tmpfs at c%s: keep-alive %.0f%%, new-connection %.0f%%\n", top,
		100 * rate[ka "/disk"] / rate[ka "/tmpfs"], 100 * rate[cn "/disk"] / rate[cn "/tmpfs"]
	printf "  keep-alive Basic >= 1500/s: %.1f/s\n", rate[ka]
	printf "  p99 < 50 ms at 80%% of saturation (%.0f/s): %.1f ms (host steal %.1f%%, worst 100 ms %.0f%%)\n", rate[ka "/paced80"], p99[ka "/paced80"], st[ka "/paced80"], stw[ka "/paced80"]
	printf "  RSS < 64 MiB with %s connections: %.1f MiB\n", top, hwm[ka] / 1024
}' "$runs"
sed -n 's/^  //p' "$B/work-bench.txt" | head -n 3 | sed 's/^/work_bench: /'
echo "results: $out"
