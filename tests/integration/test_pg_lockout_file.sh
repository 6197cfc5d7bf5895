#!/usr/bin/env bash
# The lock-out file of estd on a PostgreSQL store, as installed: estd runs as
# an unprivileged user (user = nobody here; estd.service's User=estd) and its
# configuration directory is root's and read-only to it (/etc/estkit under
# ProtectSystem=strict). There is no store file to put the lock-outs beside,
# so they went to "lockouts" in the configuration directory, which estd could
# not write: a guesser was locked out, but `estadm lockout list` showed
# nothing and `estadm lockout clear` could not lift it. `lockout-file` names
# a file in a directory estd's user can write (the state directory); without
# it, the start-up warning says to set it.
# Needs root (to drop to nobody): skipped (77) otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

[ "$(id -u)" = 0 ] || { echo "skip - needs root"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "skip - no user nobody"; exit 77; }

pg_demo
sed -i 's/^\[server\]$/[server]\nuser = nobody\nworkers = 1\nauth-fail-limit = 3/' "$CONF"
# The password file and the keys estd reads after the drop are nobody's, the directory root's.
chmod 755 "$T" "$T/var"
chown nobody "$PG_PASSFILE" "$T/var"/*
mkdir -m 700 "$T/state" && chown nobody "$T/state"
cd "$T"

# The operator who has not set it: the warning at start names the key.
start_estd
for _ in $(seq 20); do grep -q 'lock-out file' estd.log && break; sleep 0.1; done
grep_all "lock-out file: cannot open $T/var/lockouts.*lockout-file" estd.log ||
    fail "no clear start-up warning for an unwritable lock-out file: $(grep -i lock-out estd.log)"
stop_estd
ok "an unwritable default lock-out file is reported at start, naming lockout-file"

sed -i "s|^\[server\]$|[server]\nlockout-file = $T/state/lockouts|" "$CONF"
start_estd
mkcsr g
for _ in 1 2 3; do
	code "$EST/simpleenroll" -u estuser:wrong -H 'Content-Type: application/pkcs10' --data-binary @g.b64 >/dev/null || true
done
"${ADM[@]}" lockout list | grep_all 'estuser' || fail "estadm lockout list does not show the lock-out: $("${ADM[@]}" lockout list)"
[ "$(stat -c '%U %a' "$T/state/lockouts")" = "nobody 600" ] || fail "lock-out file: $(stat -c '%U %a' "$T/state/lockouts")"
expect_status 401 "estuser locked out, the right password refused" "$EST/simpleenroll" -u estuser:estpwd \
    -H 'Content-Type: application/pkcs10' --data-binary @g.b64
"${ADM[@]}" lockout clear --all >/dev/null
expect_status 200 "after estadm lockout clear, estuser enrols" "$EST/simpleenroll" -u estuser:estpwd \
    -H 'Content-Type: application/pkcs10' --data-binary @g.b64
ok "with lockout-file in a directory estd's user writes, estadm lockout lists and lifts lock-outs on a PostgreSQL store"
finish
