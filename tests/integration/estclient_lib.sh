# Helpers for the estclient tests (sourced after lib.sh, not run).
#
# estclient is run through `ec`, which records its exit status in $RC and
# its standard error in $T/ec.err. The stub (stub_est.py) serves canned
# answers from a JSON script and logs every request to $T/stub.log.

ESTCLIENT="$ESTKIT_BIN/estclient"
STUB_PID=
STUB_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stub_est.py"

# ec ARGS...: run estclient; RC = exit status, stderr in $T/ec.err.
ec() {
	RC=0
	"$ESTCLIENT" "$@" 2> "$T/ec.err" || RC=$?
	if grep -qE 'Sanitizer|runtime error:' "$T/ec.err"; then
		fail "estclient reported a sanitizer error: $(grep -E -m3 'Sanitizer|runtime error:' "$T/ec.err")"
	fi
}

# expect_rc WANT DESCRIPTION: check the last ec's exit status.
expect_rc() {
	[ "$RC" = "$1" ] || fail "$2: exit status $RC, expected $1: $(cat "$T/ec.err")"
	ok "$2 (exit $1)"
}

# The one line on stderr must say something: print it for the log.
err_says() {
	grep -q -- "$1" "$T/ec.err" || fail "stderr does not say \"$1\": $(cat "$T/ec.err")"
}

stop_stub() {
	if [ -n "$STUB_PID" ]; then
		kill "$STUB_PID" 2>/dev/null || true
		wait "$STUB_PID" 2>/dev/null || true
	fi
	STUB_PID=
}

estclient_cleanup() {
	local rc=$?
	stop_stub
	# Hand cleanup the exit status; under set -e a failing "(exit $rc)" would
	# end the trap here and leave estd running.
	set +e
	(exit $rc)
	cleanup
}
trap estclient_cleanup EXIT

# start_stub SCRIPT CERT KEY [stub options]: sets STUB_PORT.
start_stub() {
	local script=$1 cert=$2 key=$3; shift 3
	stop_stub
	rm -f "$T/stub.ready"
	python3 "$STUB_PY" --script "$script" --cert "$cert" --key "$key" --log "$T/stub.log" \
		--ready-file "$T/stub.ready" "$@" 2>>"$T/stub.err" &
	STUB_PID=$!
	for _ in $(seq 100); do
		[ -f "$T/stub.ready" ] && break
		kill -0 "$STUB_PID" 2>/dev/null || fail "stub exited at start-up: $(cat "$T/stub.err")"
		sleep 0.1
	done
	[ -f "$T/stub.ready" ] || fail "stub did not become ready in 10 s"
	STUB_PORT=$(cat "$T/stub.ready")
}

# stub_field N FIELD: FIELD of the Nth logged request (1-based; -1: last).
stub_field() {
	python3 -c 'import json,sys
lines=open(sys.argv[1]).read().splitlines()
v=json.loads(lines[int(sys.argv[2]) if int(sys.argv[2])<0 else int(sys.argv[2])-1])[sys.argv[3]]
print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$T/stub.log" "$1" "$2"
}

stub_count() { grep -c . "$T/stub.log" || true; }

# stub_csr N OUT: the CSR the Nth request posted, as DER.
stub_csr() { stub_field "$1" body | b64d > "$2"; }

# A CA (ca.key, ca.pem) and a TLS certificate for 127.0.0.1 and localhost
# (srv.key, srv.pem), in the current directory.
make_stub_pki() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
	    -out ca.pem -subj "/CN=Stub CA" -days 2 -addext "basicConstraints=critical,CA:TRUE" \
	    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	issue_tls srv "subjectAltName=IP:127.0.0.1,DNS:localhost"
}

# issue_tls NAME EXT: NAME.key and NAME.pem, a server certificate with extension EXT.
issue_tls() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
	    -subj "/CN=$1" -out "$1.csr" 2>/dev/null
	issue "$1.csr" "$1.pem" "$2
extendedKeyUsage=serverAuth"
}

# issue CSR OUT [EXTENSIONS]: a certificate from the stub CA for the CSR's key and subject.
issue() {
	printf '%s\nsubjectKeyIdentifier=hash\n' "${3:-}" > "$T/ext.cnf"
	openssl x509 -req -in "$1" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	    -extfile "$T/ext.cnf" -out "$2" 2>/dev/null
}

# cert_for KEY CN OUT: a certificate from the stub CA for KEY.
cert_for() {
	openssl req -new -key "$1" -subj "/CN=$2" -out "$T/cert_for.csr"
	issue "$T/cert_for.csr" "$3"
}

# certs_only PEM OUT: a base64 certs-only PKCS#7 body, as an EST server sends it.
certs_only() { openssl crl2pkcs7 -nocrl -certfile "$1" -outform DER | openssl base64 > "$2"; }
