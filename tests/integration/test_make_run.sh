#!/usr/bin/env bash
# The first hour with `make run` (issue 18): estd -n checks a configuration
# while estd runs on its ports; a second estd, or a second `make run`, says
# plainly that a server is already running (make run before anything else);
# make run prints nothing of the build until its banner, unless it fails.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"

out=$("$ESTD" -n -c var/estd.conf 2>&1) || fail "estd -n failed while estd runs: $out"
[ "$out" = "estd: var/estd.conf is valid" ] || fail "estd -n said: $out"
ok "estd -n checks the configuration while estd runs on its ports (no bind)"

cp -r var broken
rm broken/ca.key
rc=0; out=$("$ESTD" -n -c broken/estd.conf 2>&1) || rc=$?
[ $rc = 1 ] && grep_all 'ca.key' <<< "$out" || fail "estd -n passed a configuration without its CA key ($rc): $out"
sed -i "s/^listen = 127.0.0.1:0$/listen = no-such-host.invalid:0/" broken/estd.conf
cp var/ca.key broken/
rc=0; out=$("$ESTD" -n -c broken/estd.conf 2>&1) || rc=$?
[ $rc = 1 ] && grep_all 'cannot resolve no-such-host.invalid' <<< "$out" || fail "estd -n passed a listener that cannot resolve ($rc): $out"
ok "estd -n still refuses a missing CA key and an unresolvable listen address"

# A configuration with the running server's real ports.
sed -e "/^\[listener http\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$HTTP_PORT/" \
    -e "/^\[listener tls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$TLS_PORT/" \
    -e "/^\[listener mtls\]/,/^\[/ s/^listen = .*/listen = 127.0.0.1:$MTLS_PORT/" var/estd.conf > var/taken.conf
rc=0; out=$(timeout 20 "$ESTD" -c var/taken.conf 2>&1) || rc=$?
[ $rc = 1 ] || fail "a second estd on the same ports: exit $rc: $out"
grep_all "cannot listen on 127.0.0.1:$HTTP_PORT: Address already in use (a server, perhaps estd itself, is already running there" <<< "$out" \
    || fail "a second estd does not say a server is running: $out"
ok "a second estd on taken ports says a server is already running there"

# The demo directory of `make run` with the running server's ports.
cp var/taken.conf var/estd.conf
rc=0; out=$(timeout 20 "$ESTKIT_SRC/scripts/run-demo.sh" "$ESTKIT_BIN" var 2>&1) || rc=$?
[ $rc = 1 ] || fail "run-demo.sh with a server running: exit $rc: $out"
[ "$(head -n 1 <<< "$out")" = "make run: 127.0.0.1:$HTTP_PORT (listener http of var/estd.conf) is already in use: estd is probably running already (make run in another terminal; Ctrl-C stops it)." ] \
    || fail "run-demo.sh does not say so first: $out"
! grep_all 'estd is starting' <<< "$out" || fail "the banner came out although a server runs"
ok "make run's script with a server running: says so on its first line, starts nothing"

# make run itself, its build replaced by a stub cmake that is noisy like
# gmake, and the programs of this build. As a person types it: not with the
# flags of a make this test may run under (make -C DIR check passes -w down).
unset MAKEFLAGS MAKELEVEL MFLAGS
mkdir -p stub bld
ln -s "$ESTD" bld/estd
ln -s "$ESTADM" bld/estadm
cat > stub/cmake <<'STUB'
#!/bin/sh
for i in 1 2 3; do echo "gmake[3]: Entering directory '/somewhere/$i'"; done
[ -z "${STUB_FAIL:-}" ] || { echo "error: stub compiler failure"; exit 1; }
STUB
chmod +x stub/cmake
rc=0
STUB_FAIL=1 ESTKIT_DEMO_PORTS="0 0 0" PATH="$T/stub:$PATH" make -s -C "$ESTKIT_SRC" run BUILD="$T/bld" DEMO="$T/demo" > fail.out 2>&1 || rc=$?
[ $rc != 0 ] || fail "make run went on after a failed build"
grep_all 'error: stub compiler failure' fail.out && grep_all "make run: the build failed (all of its output: $T/bld/make-run.log)" fail.out \
    || fail "a failed build does not show its output: $(cat fail.out)"
[ ! -e demo ] || fail "make run created the demo after a failed build"
ok "make run with a failing build shows the build's output and where it is kept"

rc=0
PATH="$T/stub:$PATH" make -s -C "$ESTKIT_SRC" run BUILD="$T/bld" DEMO="$T/var" > taken.out 2>&1 || rc=$?
[ $rc != 0 ] || fail "make run with a server running went on"
head -n 1 taken.out | grep_all "^make run: 127.0.0.1:$HTTP_PORT (listener http of $T/var/estd.conf) is already in use" \
    || fail "make run with a server running does not say so first: $(cat taken.out)"
! grep_all -E 'gmake|Entering directory|estd is starting' taken.out || fail "make run built or started anyway: $(cat taken.out)"
ok "make run with a server running: says so on its first line, before building"

ESTKIT_DEMO_PORTS="0 0 0" PATH="$T/stub:$PATH" setsid make -s -C "$ESTKIT_SRC" run BUILD="$T/bld" DEMO="$T/demo" > run.out 2>&1 &
MAKE_PID=$!
for _ in $(seq 100); do grep_all 'listening on https' run.out && break; sleep 0.1; done
kill -TERM -- -"$MAKE_PID" 2>/dev/null || true
wait "$MAKE_PID" 2>/dev/null || true
grep_all 'listening on https' run.out || fail "make run did not start estd: $(cat run.out)"
! grep_all -E 'gmake|Entering directory' run.out || fail "make run printed the build's output: $(cat run.out)"
[ "$(grep -n 'estd is starting' run.out | cut -d: -f1)" -lt "$(grep -n 'listening on' run.out | head -n 1 | cut -d: -f1)" ] \
    || fail "banner not before estd's log"
! grep_all '^start the server' run.out || fail "make run repeats init's hint to start the server"
grep -v '^created ' run.out | head -n 2 | grep_all '^$\|estd is starting' \
    || fail "make run printed something before its banner: $(head -n 5 run.out)"
ok "make run: nothing of the build before its banner"

finish
