#!/usr/bin/env bash
# bench/estbench against estd, briefly, so that the load generator cannot rot
# (issue 12): every authentication and connection mode enrols, the counts
# add up, and failures are counted by status, not hidden. No figure is
# asserted: speed belongs to `make bench`.
. "$(dirname "$0")/lib.sh"

BENCH="$ESTKIT_BIN/estbench"
[ -x "$BENCH" ] || fail "estbench was not built"
init_demo
sed -i 's/^log-level = info/log-level = warn/' "$T/var/estd.conf"
start_estd
cd "$T"

# A client certificate for the mutual-TLS scenarios.
mkcsr dev
[ "$(post_csr simpleenroll dev.b64 dev.p7 -u estuser:estpwd "$EST/simpleenroll")" = 200 ] ||
	fail "cannot enrol the client certificate"
p7_to_pem dev.p7 dev.pem

# run NAME WANT_ENROLMENTS estbench-args...: exit 0, and the JSON line agrees.
run() {
	local name=$1 want=$2 json; shift 2
	"$BENCH" --cacert "$TA" -p "$ESTD_PID" -l "$name" "$@" >"$name.out" ||
		fail "$name: estbench failed: $(cat "$name.out")"
	json=$(tail -n 1 "$name.out")
	case $json in
	"{\"label\":\"$name\""*"\"enrolments\":$want,"*"\"errors\":{}"*"server_cpu_ms_per_enrolment"*) ;;
	*) fail "$name: unexpected report: $json" ;;
	esac
	ok "$name: $want enrolments, no errors"
}

run basic-keepalive 200 -u estuser:estpwd -c 8 -n 200 "https://127.0.0.1:$TLS_PORT"
# Keep-alive: the clients' connections are made (one enrolment each) before
# the clock starts, so the run itself has no handshake; new connections have
# no warm-up. The host's steal is reported (Linux: /proc/stat).
grep_all '"warmup":8,"handshakes":0,' basic-keepalive.out ||
	fail "keep-alive connections not made before the clock: $(tail -n 1 basic-keepalive.out)"
grep_all '"host_steal_pct":[0-9.]*,"host_steal_worst_100ms_pct":[0-9.]*' basic-keepalive.out ||
	fail "no host steal in: $(tail -n 1 basic-keepalive.out)"
ok "keep-alive runs start with their connections made; the host's steal is reported"
run digest-keepalive 40 -u estuser:estpwd --digest -c 4 -n 40 "https://127.0.0.1:$TLS_PORT"
run cert-new 60 --cert dev.pem --key dev.key --connection new -c 4 -n 60 \
	"https://127.0.0.1:$MTLS_PORT"
grep_all '"warmup":0,"handshakes":60,' cert-new.out ||
	fail "new-connection handshakes not all measured: $(tail -n 1 cert-new.out)"
run cert-resume 40 --cert dev.pem --key dev.key --connection resume -c 2 -n 40 \
	-k rsa-2048 --csrs 2 "https://127.0.0.1:$MTLS_PORT"
grep_all '"resumed":3[0-9]' cert-resume.out || grep_all '"resumed":40' cert-resume.out ||
	fail "resume mode resumed few sessions: $(tail -n 1 cert-resume.out)"
ok "resume mode resumes TLS sessions"
run paced 20 -u estuser:estpwd -c 4 -n 20 -r 40 --floor "https://127.0.0.1:$TLS_PORT"
grep_all '"floor_ms":0\.[0-9]' paced.out || fail "no crypto floor in: $(tail -n 1 paced.out)"
ok "the crypto floor is measured"

# The attacker's side: a wrong password is counted as 401s and fails the run.
if "$BENCH" --cacert "$TA" -u estuser:wrong -c 2 -n 4 "https://127.0.0.1:$TLS_PORT" >bad.out; then
	fail "estbench succeeded with a wrong password"
fi
grep_all '"errors":{"401":4}' bad.out || fail "401s not counted: $(tail -n 1 bad.out)"
ok "failures are counted by status and fail the run"
# A server that is not there: transport errors, not a hang.
if "$BENCH" --cacert "$TA" -u estuser:estpwd -n 2 --timeout 5 "https://127.0.0.1:$HTTP_PORT" >plain.out; then
	fail "estbench succeeded against a plain-HTTP port"
fi
grep_all '"transport":2' plain.out || fail "transport errors not counted: $(tail -n 1 plain.out)"
ok "transport errors are counted"

# bench/work/work_bench: both ways issue what was asked (it checks each
# way's answer before timing it and exits 1 otherwise), for both key types.
for kt in ec-p256 rsa-2048; do
	"$ESTKIT_BIN/work_bench" -n 20 -k "$kt" >"work-$kt.out" ||
		fail "work_bench -k $kt: $(cat "work-$kt.out")"
	grep_all "^{\"work_bench\":{\"key\":\"$kt\",\"n\":20,\"floor_ms\":[0-9.]*,\"estkit_ms\":[0-9.]*,\"openssl_ms\":[0-9.]*}}\$" \
		"work-$kt.out" || fail "work_bench -k $kt: unexpected report: $(tail -n 1 "work-$kt.out")"
done
ok "work_bench issues the certificate asked for both ways"

finish
