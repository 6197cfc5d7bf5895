#!/usr/bin/env bash
# The connection to PostgreSQL drops after the database committed an
# enrolment but before estd read the answer (a failover, a network cut at the
# worst moment; here a proxy, pg_cut_proxy.py, drops one COMMIT's answer).
# The certificate is on record and the one-time code spent, so answering 503
# left the device with neither: its retry was refused (code spent, 401) and
# an administrator had to find the orphan. estd asks the database on a new
# connection whether that transaction committed (txid_status) and, as it
# did, hands the certificate out. The record and the answer agree: every
# certificate given out is on record once, and nothing on record was lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_demo
"${ADM[@]}" ee add --username dev1 --dn CN=dev1 --alias est --password - <<< "code-dev1" >/dev/null
PROXY_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$ESTKIT_SRC/tests/integration/pg_cut_proxy.py" "$PROXY_PORT" "$PG_PORT" "$T/cut" &
PROXY_PID=$!
trap 'rc=$?; kill "$PROXY_PID" 2>/dev/null || true; pg_cleanup; set +e; (exit $rc); cleanup' EXIT
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $PROXY_PORT))" 2>/dev/null && break; sleep 0.1; done
sed -i "s|^store = .*|store = postgresql://estkit@127.0.0.1:$PROXY_PORT/estkit?passfile=$PG_PASSFILE\&sslmode=disable\&gssencmode=disable|" "$CONF"
echo "127.0.0.1:$PROXY_PORT:*:estkit:pg-secret-4711" >> "$PG_PASSFILE"
start_estd
cd "$T"

code_csr dev1 dev1 code-dev1
touch cut
st=$(curl -s -o dev1.p7 -w '%{http_code}' --cacert "$TA" -H 'Content-Type: application/pkcs10' \
    --data-binary @dev1.der "$EST/simpleenroll")
[ ! -e cut ] || fail "the proxy saw no COMMIT to cut"
recorded=$("${ADM[@]}" cert list --subject CN=dev1 | grep -c ' valid ' || true)
[ "$recorded" = 1 ] || fail "the commit whose answer was lost did not record the certificate ($recorded)"
[ "$st" = 200 ] || fail "a certificate on record, the one-time code spent, and the device got HTTP $st: $(head -c 300 dev1.p7)"
p7_to_pem dev1.p7 dev1.pem
"${ADM[@]}" cert show "$(openssl x509 -in dev1.pem -noout -serial | cut -d= -f2)" >/dev/null ||
    fail "the certificate handed out is not the one on record"
ok "a COMMIT whose answer was lost is found committed: the device gets the certificate on record"

# The next enrolment goes through as usual (the writer's connection was made again).
mkcsr after
[ "$(post_csr simpleenroll after.b64 after.p7 -u estuser:estpwd "$EST/simpleenroll")" = 200 ] ||
    fail "enrolment after the lost commit: $(cat after.p7)"
ok "the store writer serves on after a lost commit"
finish
