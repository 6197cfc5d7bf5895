#!/usr/bin/env bash
# The store's files becoming unwritable (issue 10, point 6). An immutable
# -wal while estd runs: enrolments get 500 with a reason and estd lives on,
# and serves again once the file is writable. An immutable store, -wal or
# -shm at start-up is refused by estd and estadm, naming the chattr. (An
# -shm made immutable while estd runs kills it with SIGBUS inside SQLite's
# memory map; that cannot be caught, and estd(8) says so.)
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] && command -v chattr > /dev/null || { echo "skip: needs root and chattr"; exit 77; }
init_demo
DB="$T/var/estkit.db"
start_estd
cd "$T"
chattr +i "$DB" 2>/dev/null || { echo "skip: the file system has no immutable flag"; exit 77; }
chattr -i "$DB"
trap 'rc=$?; chattr -i -a "$DB" "$DB-wal" "$DB-shm" 2>/dev/null || true; (exit $rc); cleanup' EXIT
mkcsr dev
enrol() { post_csr simpleenroll dev.b64 out.txt -u estuser:estpwd "$EST/simpleenroll"; }
[ "$(enrol)" = 200 ] || fail "enrolment before"
chattr +i "$DB-wal"
[ "$(enrol)" = 500 ] || fail "enrolment with an immutable -wal did not get 500"
grep_all "certificate store" out.txt || fail "the 500 gives no reason: $(cat out.txt)"
kill -0 "$ESTD_PID" || fail "estd died with an immutable -wal"
grep_all 'status=500.*estkit.db' estd.log || fail "the log does not name the store"
ok "immutable -wal while running: 500 with a reason ($(cat out.txt)), estd lives"
chattr -i "$DB-wal"
[ "$(enrol)" = 200 ] || fail "no enrolment once the -wal is writable again"
ok "served again once the file is writable"
check_estd_exit

# A clean stop removes -wal and -shm; empty ones are what SQLite starts from.
for f in "$DB" "$DB-wal" "$DB-shm"; do
	[ -e "$f" ] || (umask 077; : > "$f")
	chattr +i "$f"
	! "$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n accepted an immutable $f"
	grep_all "chattr -i -a" out.txt || fail "estd -n with immutable $f: $(cat out.txt)"
	! "$ESTADM" -c var/estd.conf cert list > out.txt 2>&1 || fail "estadm accepted an immutable $f"
	chattr -i "$f"
	ok "an immutable $(basename "$f") is refused at start-up: $(head -c 150 out.txt)"
done
"$ESTD" -n -c var/estd.conf > /dev/null || fail "estd -n once writable again"
echo "$PASSED passed, 0 failed"
