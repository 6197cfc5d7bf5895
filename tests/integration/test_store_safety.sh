#!/usr/bin/env bash
# The store is never created behind the operator's back (issue 10, point 4):
# estd, estd -n and every estadm command but init and db create refuse a
# missing or empty store; damage is found at start-up (quick_check) and by
# `estadm db check` (integrity_check); `estadm db backup` makes a copy that
# restores every record.
. "$(dirname "$0")/lib.sh"

init_demo
ADM=("$ESTADM" -c "$T/var/estd.conf")
DB="$T/var/estkit.db"
start_estd
cd "$T"
mkcsr dev
got=$(post_csr simpleenroll dev.b64 dev.p7 -u estuser:estpwd "$EST/simpleenroll")
[ "$got" = 200 ] || fail "enrolment gave $got"
serial=$("${ADM[@]}" cert list | awk '$NF ~ /CN=dev/ {print $1}')
[ -n "$serial" ] || fail "the enrolled certificate is not listed"

# A backup while estd runs, then restored in place of a lost store.
"${ADM[@]}" db backup "$T/backup.db" > out.txt || fail "db backup failed"
[ "$(stat -c %a "$T/backup.db")" = 600 ] || fail "the backup is not owner-only"
! "${ADM[@]}" db backup "$T/backup.db" 2> err.txt || fail "db backup overwrote a file"
grep_all 'exists' err.txt || fail "db backup over a file: $(cat err.txt)"
ok "estadm db backup while estd runs; it refuses to overwrite"
"${ADM[@]}" db check > out.txt || fail "db check on a sound store failed: $(cat out.txt)"
grep_all integrity_check out.txt || fail "db check says: $(cat out.txt)"
ok "estadm db check passes a sound store"
check_estd_exit

# Emptied: everything refuses it, nothing re-creates it.
: > "$DB"
rm -f "$DB-wal" "$DB-shm"
! "$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n accepted an empty store"
grep_all "estkit.db: the store is empty" out.txt || fail "estd -n on an empty store: $(cat out.txt)"
ok "estd -n refuses an empty store: $(cat out.txt)"
! "$ESTD" -c var/estd.conf > out.txt 2>&1 || fail "estd started on an empty store"
grep_all "the store is empty" out.txt || fail "estd on an empty store: $(cat out.txt)"
ok "estd refuses to start on an empty store"
for cmd in "cert list" "ee list" "ca list" "req list" "db check" "db backup $T/b2.db"; do
	# shellcheck disable=SC2086
	! "${ADM[@]}" $cmd > out.txt 2>&1 || fail "estadm $cmd accepted an empty store"
	grep_all "the store is empty" out.txt || fail "estadm $cmd on an empty store: $(cat out.txt)"
done
[ "$(stat -c %s "$DB")" = 0 ] || fail "something wrote into the empty store"
ok "estadm cert/ee/ca/req list, db check and db backup refuse it, and leave it empty"
rm -f "$DB"
! "${ADM[@]}" cert list > out.txt 2>&1 || fail "estadm cert list accepted a missing store"
grep_all "no store there" out.txt || fail "estadm on a missing store: $(cat out.txt)"
[ ! -e "$DB" ] || fail "estadm cert list created the store"
! "$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n accepted a missing store"
[ ! -e "$DB" ] || fail "estd -n created the store"
ok "a missing store is refused and not created"

# Restore the backup: every record is back.
mv "$T/backup.db" "$DB"
"$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n on the restored store: $(cat out.txt)"
"${ADM[@]}" cert list | grep_all "^$serial " || fail "the restored store lacks certificate $serial"
ok "the backup restores the store (certificate $serial is back)"

# db create: only where there is none.
! "${ADM[@]}" db create > out.txt 2>&1 || fail "db create over a store"
grep_all "already" out.txt || fail "db create over a store: $(cat out.txt)"
mv "$DB" "$T/kept.db"
"${ADM[@]}" db create > out.txt || fail "db create: $(cat out.txt)"
[ "$(stat -c %a "$DB")" = 600 ] || fail "db create made a store readable by others"
"${ADM[@]}" cert list > out.txt 2>&1 || fail "cert list on a created store: $(cat out.txt)"
ok "estadm db create makes a store only where there is none"
mv "$T/kept.db" "$DB"
rm -f "$DB-wal" "$DB-shm"

# Damaged pages: quick_check at estd -n and start-up, integrity_check in db check.
python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode = DELETE")
db.execute("CREATE TABLE filler (x)")
db.executemany("INSERT INTO filler VALUES (randomblob(300))", [()] * 3000)
db.commit()
db.close()
with open(sys.argv[1], "r+b") as f:
    size = f.seek(0, 2)
    f.seek(size // 2 // 4096 * 4096)
    f.write(b"\xa5" * 4096)
PY
! "$ESTD" -n -c var/estd.conf > out.txt 2>&1 || fail "estd -n accepted a damaged store"
grep_all "estkit.db: SQLite quick_check" out.txt || fail "estd -n on a damaged store: $(cat out.txt)"
ok "estd -n refuses a damaged store: $(cat out.txt)"
! "$ESTD" -c var/estd.conf > out.txt 2>&1 || fail "estd started on a damaged store"
ok "estd refuses to start on a damaged store"
! "${ADM[@]}" db check > out.txt 2>&1 || fail "db check passed a damaged store"
grep_all "integrity_check" out.txt || fail "db check on a damaged store: $(cat out.txt)"
ok "estadm db check names the damage: $(cat out.txt)"
echo "$PASSED passed, 0 failed"
