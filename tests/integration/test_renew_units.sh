#!/usr/bin/env bash
# The systemd units of estclient renew (dist/, issue 17): systemd-analyze
# verify accepts the timer, its one-shot service and the daemon service
# (with ExecStart pointed at the build's estclient), they run `estclient
# renew`, and the example renew.conf parses. Skipped without systemd-analyze.
. "$(dirname "$0")/lib.sh"

D="$ESTKIT_BIN/dist"
for f in estclient-renew.service estclient-renewd.service renew.conf.example; do
	[ -f "$D/$f" ] || fail "cmake did not make $D/$f from dist/$f.in"
done
grep_all -E '^ExecStart=.*/estclient renew --config ' "$D/estclient-renew.service" || fail "one-shot ExecStart"
grep_all -E '^ExecStart=.*/estclient renew --daemon --config ' "$D/estclient-renewd.service" || fail "daemon ExecStart"
grep_all -E '^Type=oneshot' "$D/estclient-renew.service" || fail "the timer's service is not oneshot"
ok "units run estclient renew, one-shot and --daemon"

# The example parses: missing certificate files fail (1), never the syntax (2).
rc=0
"$ESTKIT_BIN/estclient" renew --config "$D/renew.conf.example" 2> "$T/ex.err" || rc=$?
[ "$rc" = 1 ] || fail "renew.conf.example: exit $rc: $(cat "$T/ex.err")"
grep_all -E 'web: .*/etc/ssl/certs/web.pem' "$T/ex.err" || fail "example: $(cat "$T/ex.err")"
grep_all -E 'mqtt: ' "$T/ex.err" || fail "example: the second certificate was not looked at"
ok "renew.conf.example parses; each certificate is looked at"

if ! command -v systemd-analyze > /dev/null; then
	skip_part "systemd-analyze is not installed"
	finish
fi
mkdir "$T/units"
for f in estclient-renew.service estclient-renewd.service; do
	sed -E "s#^ExecStart=[^ ]*/estclient #ExecStart=$ESTKIT_BIN/estclient #" "$D/$f" > "$T/units/$f"
done
cp "$ESTKIT_SRC/dist/estclient-renew.timer" "$T/units/"
(cd "$T/units" && systemd-analyze verify --man=no ./estclient-renew.timer ./estclient-renew.service \
    ./estclient-renewd.service) > "$T/verify.out" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.out")"
ok "systemd-analyze verify accepts the timer and both services"
finish
