#!/usr/bin/env bash
# The PostgreSQL column of the benchmark (issue 13; docs/deployment.md):
#
#   bench/postgresql.sh [BUILD_DIR]
#
# Starts a PostgreSQL server of its own (as tests/integration/pg_lib.sh does,
# but with fsync on: commits as durable as SQLite's synchronous=FULL), then
#  1. the store alone (bench/store/store_bench: put_issued, one transaction
#     each, without TLS or signing) on SQLite and on PostgreSQL, 1, 4 and 16
#     threads, then through the grouped writer (one transaction per group) at
#     16 and 64: what each database sustains;
#  2. enrolment over mutual TLS, a new connection each (bench/estbench),
#     against one estd on SQLite, one estd on PostgreSQL, and two estd on
#     one PostgreSQL database with the load split between them.
# Prints one line per run. Environment: BENCH_SECONDS (default 8),
# BENCH_THREADS (enrolment clients at once, default 8).
set -euo pipefail
cd "$(dirname "$0")/.."
B=$(cd "${1:-build}" && pwd)
seconds=${BENCH_SECONDS:-8}
threads=${BENCH_THREADS:-8}
ESTKIT_BIN=$B
T=$(mktemp -d "${TMPDIR:-/tmp}/estkit-bench.XXXXXX")
pids=()
fail() { echo "bench: $*" >&2; exit 1; }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
. tests/integration/pg_lib.sh
PG_FSYNC=on pg_start

echo "== the store alone: put_issued, one transaction (and fsync) each =="
# A demo moved to PostgreSQL as an operator would: export, create, import.
"$B/estadm" init "$T/sq" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
"$B/estadm" -c "$T/sq/estd.conf" db export > "$T/demo.jsonl"
sed -i "s|^store = .*|store = $PG_URI|; s/^log-level = info/log-level = warn/" "$T/sq/estd.conf"
"$B/estadm" -c "$T/sq/estd.conf" db create >/dev/null
"$B/estadm" -c "$T/sq/estd.conf" db import "$T/demo.jsonl" >/dev/null
for n in 1 4 16; do
	"$B/store_bench" "sqlite:$T/sq/estkit.db" "$n" "$seconds"
	"$B/store_bench" "$PG_URI" "$n" "$seconds"
done
echo "== the store alone through the grouped writer (as estd records): one transaction per group =="
for n in 16 64; do
	"$B/store_bench" "sqlite:$T/sq/estkit.db" "$n" "$seconds" writer
	"$B/store_bench" "$PG_URI" "$n" "$seconds" writer
done

echo "== enrolment over mutual TLS, a new connection each, $threads clients =="
# start DIR READY: an estd; sets PID and MTLS.
start() {
	"$B/estd" -c "$1/estd.conf" --ready-file "$2" 2>>"$1/estd.log" &
	PID=$!
	pids+=("$PID")
	for _ in $(seq 100); do [ -f "$2" ] && break; sleep 0.1; done
	[ -f "$2" ] || fail "estd did not start: $(tail -n 3 "$1/estd.log")"
	MTLS=$(awk '$1=="mtls"{print $2}' "$2")
	TLS=$(awk '$1=="tls"{print $2}' "$2")
}
identity() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/dev.key" \
		-subj /CN=bench-device -outform DER -out "$T/dev.der" 2>/dev/null
	openssl base64 -in "$T/dev.der" -out "$T/dev.b64"
	curl -sf --cacert "$1/ca.pem" -u estuser:estpwd -H 'Content-Type: application/pkcs10' \
		--data-binary @"$T/dev.b64" -o "$T/dev.p7" "https://127.0.0.1:$TLS/.well-known/est/simpleenroll"
	openssl base64 -d -in "$T/dev.p7" | openssl pkcs7 -inform DER -print_certs -out "$T/dev.pem"
}
load() { # LABEL DIR PORT CLIENTS: one line, enrolments/s and latency, from estbench's JSON
	local line
	line=$("$B/estbench" --cacert "$2/ca.pem" -k ec-p256 -c "$4" -d "$seconds" --cert "$T/dev.pem" \
		--key "$T/dev.key" --connection new -l "$1" "https://127.0.0.1:$3" 2>/dev/null | tail -n 1) || true
	echo "$1: $(echo "$line" | grep -oE '"(enrolments_per_s|ok|failed|p50|p99)":[0-9.]+' | tr '\n' ' ')"
}
# One estd on SQLite: the demo as estadm init makes it.
"$B/estadm" init "$T/one" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
sed -i 's/^log-level = info/log-level = warn/' "$T/one/estd.conf"
start "$T/one" "$T/one.ready"
identity "$T/one"
load "one estd, SQLite" "$T/one" "$MTLS" "$threads"
kill "$PID"
# The same CA on PostgreSQL (the store of part 1, same keys).
start "$T/sq" "$T/sq.ready"
identity "$T/sq"
load "one estd, PostgreSQL" "$T/sq" "$MTLS" "$threads"
cp -a "$T/sq" "$T/sq2"
P1=$MTLS
start "$T/sq2" "$T/sq2.ready"
P2=$MTLS
half=$(( (threads + 1) / 2 ))
load "two estd, one PostgreSQL: estd 1" "$T/sq" "$P1" "$half" &
l1=$!
load "two estd, one PostgreSQL: estd 2" "$T/sq2" "$P2" "$half" &
l2=$!
wait "$l1" "$l2"
echo "machine: $(nproc) cores ($(uname -m)); all servers, clients and PostgreSQL share them"
