#!/usr/bin/env bash
# estd drops root for the configured user after binding and loading keys
# (issue 6, "Secrets"); it then still serves and records enrolments.
# Needs root: skipped (exit 77) otherwise.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "skipped: no user nobody"; exit 77; }

init_demo
sed -i 's/^realm = estkit/realm = estkit\nuser = nobody/' "$T/var/estd.conf"
chown -R nobody "$T/var"
chmod 755 "$T"
start_estd
uid=$(awk '/^Uid:/{print $2, $3, $4, $5}' "/proc/$ESTD_PID/status")
[ "$uid" = "$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" ] || fail "estd runs with uids $uid"
grep -q 'running as user nobody' "$T/estd.log" || fail "privilege drop not logged"
ok "estd runs as nobody after start-up (real, effective, saved, fs uid)"

cd "$T"
mkcsr dev
expect_status 200 "enrolment after the drop" "$EST/simpleenroll" -H 'Content-Type: application/pkcs10' \
    --data-binary @dev.b64 --digest -u estuser:estpwd

# The administrator, as root (sudo estadm ...), adds a user and a token while
# estd runs as nobody: the files estadm rewrites keep their owner, so estd can
# still read them at the next reload (they once became root's 0600 files).
touch var/tokens && chown nobody var/tokens && chmod 600 var/tokens
sed -i 's/^realm = estkit/realm = estkit\nbearer-tokens = tokens/' var/estd.conf
printf 'alicepw\n' | "$ESTADM" -c var/estd.conf user add alice > /dev/null
"$ESTADM" -c var/estd.conf token add dev1 > /dev/null
for f in users tokens; do
	[ "$(stat -c %U var/$f)" = nobody ] || fail "estadm as root left var/$f owned by $(stat -c %U var/$f)"
done
before=$(grep -c 'reloaded ' estd.log || true)
kill -HUP "$ESTD_PID"
for _ in $(seq 100); do
	[ "$(grep -c 'reloaded ' estd.log || true)" -gt "$before" ] && break
	sleep 0.1
done
[ "$(grep -c 'reloaded ' estd.log || true)" -gt "$before" ] || fail "no reload: $(tail -n 3 estd.log)"
mkcsr alice
expect_status 200 "an enrolment by the user root added, after a reload as nobody" "$EST/simpleenroll" \
    -H 'Content-Type: application/pkcs10' --data-binary @alice.b64 --digest -u alice:alicepw
ok "estadm run as root keeps the owner of the users and tokens files estd (nobody) reads"

sed -i 's/^user = nobody/user = no-such-user-here/' "$T/var/estd.conf"
rc=0
timeout 10 "$ESTD" -c "$T/var/estd.conf" 2>err.txt || rc=$?
[ $rc = 1 ] || fail "estd with an unknown user exited $rc"
grep -q 'user = no-such-user-here: no such user' err.txt || fail "unclear message: $(cat err.txt)"
ok "unknown user: estd refuses to start and says why"
finish
