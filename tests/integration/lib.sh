# Shared helpers for the integration tests (sourced, not run).
#
# Each test gets its own temporary directory, its own estd on 127.0.0.1 with
# ports chosen by the kernel (port 0; estd reports them in a ready file), so
# tests run in parallel without colliding. Everything is removed on exit.

set -euo pipefail

: "${ESTKIT_BIN:?ESTKIT_BIN must point at the build directory}"
ESTD="$ESTKIT_BIN/estd"
ESTADM="$ESTKIT_BIN/estadm"
T=$(mktemp -d "${TMPDIR:-/tmp}/estkit-test.XXXXXX")
ESTD_PID=
PASSED=0
SKIPPED=

stop_estd() {
	if [ -n "$ESTD_PID" ] && kill -0 "$ESTD_PID" 2>/dev/null; then
		kill -TERM "$ESTD_PID" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$ESTD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$ESTD_PID" 2>/dev/null || true
		wait "$ESTD_PID" 2>/dev/null || true
	fi
	ESTD_PID=
}

cleanup() {
	local rc=$?
	# Background helpers a failed test left running would hold ctest's pipe open.
	for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
	stop_estd
	if [ $rc -ne 0 ] && [ -f "$T/estd.log" ]; then
		echo "--- estd log (last 40 lines) ---"
		tail -n 40 "$T/estd.log"
	fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }

# grep_all ARGS...: grep -q for the end of a pipeline. It reads all its input,
# so the writer never dies of SIGPIPE when the match comes early (with
# pipefail that would fail the pipeline at random).
grep_all() { grep "$@" > /dev/null; }
fail() { echo "not ok - $*" >&2; exit 1; }

# Stop estd and check that it shut down cleanly: exit status 0, and no
# sanitizer report (in a -DESTKIT_SANITIZE=ON build) in its log.
check_estd_exit() {
	local rc=0
	[ -n "$ESTD_PID" ] || return 0
	kill -TERM "$ESTD_PID" 2>/dev/null || true
	wait "$ESTD_PID" || rc=$?
	ESTD_PID=
	if grep -qE 'Sanitizer|runtime error:' "$T/estd.log"; then
		fail "estd reported a sanitizer error: $(grep -E -m3 'Sanitizer|runtime error:' "$T/estd.log")"
	fi
	[ $rc -eq 0 ] || fail "estd exited with status $rc on SIGTERM"
	ok "estd stopped cleanly"
}

# skip_part REASON: a part of the test could not run (e.g. a document from
# outside the repository is missing); the rest still runs, and finish then
# exits 77, which ctest reports as skipped (SKIP_RETURN_CODE), not passed.
skip_part() {
	echo "skip - $*"
	SKIPPED="${SKIPPED:+$SKIPPED; }$*"
}

# shared_doc PATH: the file PATH under the shared documents beside the
# repository ($ESTKIT_SHARED, else ../shared next to the source tree, as in
# CI), printed; status 1 when it is not there (a plain clone has none).
shared_doc() {
	local f="${ESTKIT_SHARED:-$ESTKIT_SRC/../shared}/$1"
	echo "$f"
	[ -f "$f" ]
}

# Verdict line counted by CI; exit 77 (skipped) when a part was skipped.
finish() {
	check_estd_exit
	echo "$PASSED passed, 0 failed"
	if [ -n "$SKIPPED" ]; then
		echo "skipped: $SKIPPED"
		exit 77
	fi
}

# init_demo [estadm init options...]: a demo directory in $T/var, ports from the kernel.
# With ESTKIT_TEST_STORE=postgresql (make check-postgresql) its store is moved to
# a PostgreSQL server of the test's own (pg_lib.sh), as docs/deployment.md moves one.
init_demo() {
	"$ESTADM" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 "$@" >/dev/null
	TA="$T/var/ca.pem"
	# A test that runs its own PostgreSQL (PG_DIR set) places the store itself.
	if [ "${ESTKIT_TEST_STORE:-sqlite}" = postgresql ] && [ -z "${PG_DIR:-}" ]; then
		. "$(dirname "${BASH_SOURCE[0]}")/pg_lib.sh"
		pg_start
		"$ESTADM" -c "$T/var/estd.conf" db export > "$T/demo-export.jsonl"
		sed -i "s|^store = .*|store = $PG_URI|" "$T/var/estd.conf"
		"$ESTADM" -c "$T/var/estd.conf" db create > /dev/null
		"$ESTADM" -c "$T/var/estd.conf" db import "$T/demo-export.jsonl" > /dev/null
		rm -f "$T/var/estkit.db"
	fi
}

# sqlite_only WHAT: this test is about the SQLite file itself; skip (77) on PostgreSQL.
sqlite_only() {
	if [ "${ESTKIT_TEST_STORE:-sqlite}" != sqlite ]; then
		echo "skip - $* (the SQLite store's own)"
		exit 77
	fi
}

# start_estd [CONFIG]: start estd and wait until it listens; sets HTTP_PORT, TLS_PORT, MTLS_PORT.
start_estd() {
	local conf=${1:-$T/var/estd.conf}
	rm -f "$T/ready"
	"$ESTD" -c "$conf" --ready-file "$T/ready" >>"$T/estd.log" 2>&1 &
	ESTD_PID=$!
	for _ in $(seq 100); do
		[ -f "$T/ready" ] && break
		kill -0 "$ESTD_PID" 2>/dev/null || fail "estd exited at start-up: $(tail -n 5 "$T/estd.log")"
		sleep 0.1
	done
	[ -f "$T/ready" ] || fail "estd did not become ready in 10 s"
	HTTP_PORT=$(awk '$1=="http"{print $2}' "$T/ready")
	TLS_PORT=$(awk '$1=="tls"{print $2}' "$T/ready")
	MTLS_PORT=$(awk '$1=="mtls"{print $2}' "$T/ready")
	EST="https://127.0.0.1:$TLS_PORT/.well-known/est"
	MEST="https://127.0.0.1:$MTLS_PORT/.well-known/est"
}

# b64d: whitespace-tolerant base64 to DER (the conformance list's helper).
b64d() { tr -d '\r\n \t' | openssl base64 -d -A; }

# metrics_port: MPORT and M (its /metrics URL) of an estd started with metrics-listen.
metrics_port() {
	MPORT=$(awk '$1=="metrics"{print $2}' "$T/ready")
	[ -n "$MPORT" ] || fail "no metrics port in the ready file"
	M="http://127.0.0.1:$MPORT/metrics"
}

# mkcsr NAME [openssl req args...]: NAME.key and NAME.csr (PEM) and NAME.b64 (base64 DER).
mkcsr() {
	local name=$1; shift
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$T/$name.key" -subj "/CN=$name" -out "$T/$name.csr" "$@" 2>/dev/null
	openssl req -in "$T/$name.csr" -outform DER | openssl base64 > "$T/$name.b64"
}

# code_csr NAME CN CODE: NAME.key, NAME.der and NAME.b64 in $T, a CSR for CN with an end
# entity's enrolment CODE as its challengePassword.
code_csr() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/$1.key" \
	    -outform DER -out "$T/$1.der" -config <(printf \
	    '[req]\ndistinguished_name=d\nattributes=a\nprompt=no\n[d]\nCN=%s\n[a]\nchallengePassword=%s\n' \
	    "$2" "$3") 2>/dev/null || fail "openssl req for $1"
	openssl base64 -in "$T/$1.der" -out "$T/$1.b64"
}

# code URL [curl args...]: HTTP status only.
code() {
	local url=$1; shift
	curl -s -o /dev/null -w '%{http_code}' --cacert "$TA" "$@" "$url"
}

# expect_status WANT DESCRIPTION URL [curl args...]
expect_status() {
	local want=$1 what=$2 got; shift 2
	got=$(code "$@") || true
	[ "$got" = "$want" ] || fail "$what: expected HTTP $want, got $got"
	ok "$what (HTTP $want)"
}

# enroll_p7 B64FILE OUT [curl args...]: POST to simpleenroll on the TLS port, -u estuser.
post_csr() {
	local op=$1 file=$2 out=$3; shift 3
	curl -s -o "$out" -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
		--data-binary @"$file" "$@"
}

# p7_to_pem IN OUT: certs-only base64 response to PEM certificates.
p7_to_pem() { b64d < "$1" | openssl pkcs7 -inform DER -print_certs -out "$2"; }

# enrol_demo NAME: $T/NAME.key and $T/NAME.pem, enrolled at $EST with the demo user.
enrol_demo() {
	mkcsr "$1"
	local st
	st=$(post_csr simpleenroll "$T/$1.b64" "$T/$1.p7" -u estuser:estpwd "$EST/simpleenroll")
	[ "$st" = 200 ] || fail "enrolment of $1 gave HTTP $st"
	p7_to_pem "$T/$1.p7" "$T/$1.pem"
}
