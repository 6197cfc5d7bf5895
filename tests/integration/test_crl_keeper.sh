#!/usr/bin/env bash
# The CRL keeper (issue 12, point 2: an event loop never waits on fsync).
# A CRL request only reads the store; a new CRL is made by the keeper
# thread (lib/server/crl_keeper.c). Checked here: many concurrent requests
# after one revocation make ONE new CRL and all get it; the keeper's timer
# still rewrites crl-file at start, follows a revocation nobody asked about
# and restores a deleted file; while a CRL waits for the store, the event
# loop serves other requests; a request waiting for the keeper when estd
# stops is answered during the drain; a keeper that cannot write the store
# gives the client a status and a one-line reason (as EST-G-14 asks of EST
# errors), never a hang.
source "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null || exit 77
command -v python3 >/dev/null || exit 77
sqlite_only "revocations are written straight into the SQLite file, as another estd or tool would"
cd "$T"
init_demo
DB="$T/var/estkit.db"
CRL_FILE="$T/var/ManagementCA.crl"
# No timer check during the first part: every new CRL there is one a request asked for.
# One worker: a CRL made on its loop would stall every other request.
sed -i 's/^\[server\]$/[server]\ncrl-check-interval = 3600\ndrain-timeout = 30\nworkers = 1/' var/estd.conf
grep_all '^crl-file = ' var/estd.conf || fail "estadm init wrote no crl-file"

serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | sed 's/^0*//'; }
der_number() { printf '%d' "$(openssl crl -inform DER -in "$1" -noout -crlnumber | cut -d= -f2)"; }
stored_number() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT crl_number FROM crls").fetchone()[0])' "$DB"
}
made_lines() { grep -c 'made CRL number' "$T/estd.log" || true; }
# revoke NAME [HOLD]: revoke NAME's certificate in the store, behind estd's back
# (estadm would make the CRL itself); with HOLD, then keep the store's write lock
# HOLD seconds in the background ($REVOKER; wait for it), $T/locked appearing
# once it is held. (A bare `wait` would wait for estd too.)
revoke() {
	rm -f "$T/locked"
	python3 - "$DB" "$(serial_of "$1.pem")" "${2:-0}" "$T/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("UPDATE certs SET status='revoked', revoked_at=?, revocation_reason=1 WHERE serial=?",
           (int(time.time()), sys.argv[2]))
hold = float(sys.argv[3])
if hold > 0:
    db.execute("BEGIN IMMEDIATE")
open(sys.argv[4], "w").close()
time.sleep(hold)
if hold > 0:
    db.execute("ROLLBACK")
PY
	REVOKER=$!
	for _ in $(seq 50); do [ -e "$T/locked" ] && return 0; sleep 0.1; done
	fail "the store could not be changed"
}

start_estd
CRL_URL="http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl"
for _ in $(seq 50); do [ -s "$CRL_FILE" ] && break; sleep 0.1; done
[ -s "$CRL_FILE" ] || fail "the keeper did not write crl-file when estd started serving"
enrol_demo alice
enrol_demo bob
enrol_demo carol
enrol_demo dave

# ---- coalescing: N requests after one revocation, one new CRL ----------------
curl -sf -o before.der "$CRL_URL" || fail "no CRL"
n0=$(der_number before.der)
[ "$(stored_number)" = "$n0" ] || fail "the CRL served ($n0) is not the stored one ($(stored_number))"
made0=$(made_lines)
revoke alice
wait "$REVOKER"
N=24
pids=()
for i in $(seq $N); do
	curl -s -m 30 -o "crl$i.der" -w '%{http_code}' "$CRL_URL" > "st$i" &
	pids+=($!)
done
wait "${pids[@]}"
for i in $(seq $N); do
	[ "$(cat "st$i")" = 200 ] || fail "concurrent CRL request $i gave HTTP $(cat "st$i")"
	[ "$(der_number "crl$i.der")" = $((n0 + 1)) ] \
		|| fail "request $i got CRL number $(der_number "crl$i.der"), not $((n0 + 1))"
	openssl crl -inform DER -in "crl$i.der" -noout -text | grep_all "$(serial_of alice.pem)" \
		|| fail "request $i got a CRL without the revocation"
done
[ "$(stored_number)" = $((n0 + 1)) ] || fail "the store holds CRL number $(stored_number), not $((n0 + 1)): more than one CRL was made"
[ $(($(made_lines) - made0)) = 1 ] || fail "estd made $(($(made_lines) - made0)) CRLs for one revocation"
cmp -s crl1.der "$CRL_FILE" || fail "crl-file is not the CRL the keeper made"
ok "$N concurrent CRL requests after one revocation: one new CRL (number $((n0 + 1))), all got it, crl-file too"
expect_status 304 "the new CRL's ETag revalidates" "$CRL_URL" -H "If-None-Match: \"crl-$((n0 + 1))\""

# ---- the keeper's failure is the client's answer, not a hang ------------------
# The store's write lock held past the busy timeout (10 s): the keeper cannot record the CRL.
revoke bob 14
start=$(date +%s)
curl -s -m 40 -D fail.hdr -o fail.body -w '%{http_code}' "$CRL_URL" > fail.st &
client=$!
sleep 1
# Meanwhile the one event loop serves on: the CA certificate comes at once.
expect_status 200 "while a CRL waits for the store, the same worker answers another request" \
	"${CRL_URL%.crl}.crt" -m 3
wait "$client" "$REVOKER"
st=$(cat fail.st)
[ "$st" = 500 ] || fail "a CRL the keeper cannot record gave HTTP $st"
[ "$(wc -l < fail.body)" = 1 ] || fail "the reason is not one line: $(cat fail.body)"
grep_all -i '^Content-Type: text/plain' fail.hdr || fail "the reason is not text/plain"
grep_all 'certificate store' fail.body || fail "the reason does not say what failed: $(cat fail.body)"
[ $(($(date +%s) - start)) -lt 30 ] || fail "the answer took $(($(date +%s) - start)) s"
ok "the keeper's failure answers the waiting request: HTTP 500, one text/plain line"
curl -sf -o after.der "$CRL_URL" || fail "no CRL once the store is free again"
openssl crl -inform DER -in after.der -noout -text | grep_all "$(serial_of bob.pem)" \
	|| fail "the next request did not get the revocation"
ok "the next request, with the store free again, gets the new CRL"

# ---- a request waiting for the keeper when estd stops is answered -----------
revoke carol 2
curl -s -m 40 -o drain.der -w '%{http_code}' "$CRL_URL" > drain.st &
client=$!
sleep 0.5
check_estd_exit
wait "$client" "$REVOKER"
[ "$(cat drain.st)" = 200 ] || fail "a CRL request waiting at SIGTERM gave HTTP $(cat drain.st)"
openssl crl -inform DER -in drain.der -noout -text | grep_all "$(serial_of carol.pem)" \
	|| fail "the request waiting at SIGTERM did not get the new CRL"
ok "a CRL request waiting for the keeper when estd stops is answered during the drain"

# ---- the timer: start-up rewrite, revocations nobody asks about, a lost file -
printf 'stale' > "$CRL_FILE"
sed -i 's/^crl-check-interval = 3600$/crl-check-interval = 1/' var/estd.conf
start_estd
for _ in $(seq 50); do [ "$(head -c 5 "$CRL_FILE")" != stale ] && break; sleep 0.1; done
openssl crl -inform DER -in "$CRL_FILE" -noout 2>/dev/null || fail "the first check did not rewrite crl-file"
ok "the keeper's first check rewrites crl-file left behind"
revoke dave
wait "$REVOKER"
for _ in $(seq 50); do
	openssl crl -inform DER -in "$CRL_FILE" -noout -text 2>/dev/null | grep_all "$(serial_of dave.pem)" && break
	sleep 0.1
done
openssl crl -inform DER -in "$CRL_FILE" -noout -text | grep_all "$(serial_of dave.pem)" \
	|| fail "crl-file did not follow a revocation without any request"
ok "with no request, the keeper's timer makes the new CRL and rewrites crl-file"
rm -f "$CRL_FILE"
for _ in $(seq 50); do [ -s "$CRL_FILE" ] && break; sleep 0.1; done
[ -s "$CRL_FILE" ] || fail "a deleted crl-file was not written again"
ok "a deleted crl-file is written again at the next check"
# Rewritten by root (sudo estadm), crl-file stays estd's user's.
if [ "$(id -u)" = 0 ]; then
	chown nobody: "$CRL_FILE"
	"$ESTKIT_BIN/estadm" -c var/estd.conf crl generate > /dev/null || fail "estadm crl generate"
	[ "$(stat -c %U "$CRL_FILE")" = nobody ] || fail "crl-file did not keep its owner: $(stat -c %U "$CRL_FILE")"
	ok "crl-file rewritten by root keeps its owner"
fi

finish
