# A PostgreSQL server of the test's own, for the tests of the shared store
# (sourced after lib.sh). pg_start runs initdb into a temporary directory and
# starts postgres there as an unprivileged user (postgres refuses root),
# listening on a unix socket in that directory and on 127.0.0.1 at a free
# port, with password (SCRAM) authentication over TCP. It makes the role and
# database "estkit" and a password file for them, and sets PG_URI to the
# store URI (no password in it: passfile= names the file). pg_stop stops it;
# the exit trap does too. A machine without PostgreSQL skips (exit 77).
# fsync is off (tests need no durability against power loss) unless
# PG_FSYNC=on (bench/postgresql.sh).

PG_DIR=
PG_BIN=
PG_USER=

pg_find() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { PG_BIN=$d; return 0; }
	done
	command -v initdb >/dev/null && command -v pg_ctl >/dev/null || return 1
	PG_BIN=$(dirname "$(command -v initdb)")
}

# as_pg CMD...: CMD as the unprivileged user that owns the cluster.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid="$PG_USER" --regid="$(id -g "$PG_USER")" --clear-groups -- "$@"
	else
		"$@"
	fi
}

pg_stop() {
	[ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ] &&
		as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

pg_cleanup() {
	pg_stop
	[ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
	PG_DIR=
}

# pg_restart: start the stopped server again on the same port.
pg_restart() {
	as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start >/dev/null ||
		fail "PostgreSQL did not start again: $(tail -n 5 "$PG_DIR/log")"
}

# psql_su SQL: run SQL as the cluster's superuser over the unix socket.
psql_su() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U postgres -d "${2:-postgres}" -tA -c "$1"
}

pg_start() {
	if ! pg_find; then
		echo "skip - PostgreSQL (initdb, pg_ctl) is not installed"
		exit 77
	fi
	if [ "$(id -u)" = 0 ]; then
		PG_USER=nobody
		id "$PG_USER" >/dev/null 2>&1 || fail "no unprivileged user to run PostgreSQL as"
	fi
	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/estkit-pg.XXXXXX")
	trap 'rc=$?; pg_cleanup; set +e; (exit $rc); cleanup' EXIT
	[ -z "$PG_USER" ] || chown "$PG_USER" "$PG_DIR"
	chmod 755 "$PG_DIR"
	PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
	cat >> "$PG_DIR/data/postgresql.conf" <<-CONF
	listen_addresses = '127.0.0.1'
	port = $PG_PORT
	unix_socket_directories = '$PG_DIR'
	fsync = ${PG_FSYNC:-off}
	max_connections = 60
	CONF
	pg_restart
	psql_su "CREATE ROLE estkit LOGIN PASSWORD 'pg-secret-4711'"
	psql_su "CREATE DATABASE estkit OWNER estkit"
	PG_PASSFILE="$T/pgpass"
	echo "127.0.0.1:$PG_PORT:*:estkit:pg-secret-4711" > "$PG_PASSFILE"
	chmod 600 "$PG_PASSFILE"
	PG_URI="postgresql://estkit@127.0.0.1:$PG_PORT/estkit?passfile=$PG_PASSFILE"
}

# pg_demo: a PostgreSQL server of the test's own (pg_start) and the demo
# (init_demo) with its store there: made, and the demo's vendor CAs
# imported. Sets CONF (the demo's estd.conf) and ADM (estadm on it); edit
# CONF after it, then start_estd.
pg_demo() {
	pg_start
	init_demo
	CONF="$T/var/estd.conf"
	ADM=("$ESTADM" -c "$CONF")
	sed -i "s|^store = .*|store = $PG_URI|" "$CONF"
	"${ADM[@]}" db create >/dev/null
	"${ADM[@]}" ca import --external VendorSubCA \
	    "$ESTKIT_SRC/tests/fixtures/vendor/VendorSubCAEC384.cacert.pem" >/dev/null
	"${ADM[@]}" ca import --external VendorRootCA \
	    "$ESTKIT_SRC/tests/fixtures/vendor/VendorRootCAEC384.cacert.pem" >/dev/null
}
