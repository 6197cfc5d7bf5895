#!/usr/bin/env bash
# The migration guides stay true (issue 14, point 7): the step-by-step
# block of docs/coming-from-libest.md runs as written, against a server
# set up by its own estadm init (ports chosen by the kernel instead of
# 8080/8442/8443, /tmp/est a directory of this test, the programs from the
# build); and every estadm command the EJBCA guide's tables name exists.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
ESTCLIENT="$ESTKIT_BIN/estclient"
[ -x "$ESTCLIENT" ] || { echo "skipped: estclient is not built"; exit 77; }
cd "$T"

# --- coming-from-libest.md: the block after "## Step by step" -------------------
awk '/^## Step by step/ { s = 1 } s && /^```sh$/ { on = 1; next } on && /^```/ { exit } on { print }' \
    "$ESTKIT_SRC/docs/coming-from-libest.md" > block.sh
[ "$(wc -l < block.sh)" -ge 6 ] || fail "no step-by-step block found (test is stale)"
grep_all '^estd -c /tmp/est/estd.conf &' block.sh || fail "the block no longer starts estd as this test expects"
: > run.sh
while IFS= read -r line; do
	line=${line%%  #*}
	case "$line" in
	"make install"*) continue ;;  # the programs come from the build
	"estd -c /tmp/est/estd.conf &")
		echo 'start_estd "$T/est/estd.conf"' >> run.sh
		continue ;;
	"estadm init /tmp/est"*) line="$line --http-port 0 --tls-port 0 --mtls-port 0" ;;
	esac
	printf '%s\n' "$line" | sed -e 's|/tmp/est|$T/est|g' -e 's/\b8442\b/$TLS_PORT/g' \
	    -e 's/\b8443\b/$MTLS_PORT/g' -e 's/^estclient /"$ESTCLIENT" /' \
	    -e 's/^estadm /"$ESTADM" /' >> run.sh
done < block.sh
# shellcheck disable=SC1091
. ./run.sh > run.out 2> run.err || fail "the guide's block failed: $(tail -n 5 run.err)"
[ -s out/cacert-0-0.pem ] && [ -s out/cert-0-0.pem ] && [ -s out/key-x-x.pem ] ||
	fail "the guide's block did not write the files it promises: $(ls out)"
[ "$(grep -c ' valid ' run.out)" -ge 3 ] ||
	fail "cert list does not show the TLS certificate, the enrolment and the renewal: $(cat run.out)"
ok "coming-from-libest.md: the article's tour runs as written ($(grep -c . block.sh) lines)"

# --- coming-from-ejbca.md: every estadm command named exists ------------------------
cmds=$(grep -oE '`estadm [a-z]+ [a-z-]+' "$ESTKIT_SRC/docs/coming-from-ejbca.md" | sed 's/^`estadm //' | sort -u)
[ "$(echo "$cmds" | wc -l)" -ge 8 ] || fail "too few estadm commands found in the EJBCA guide (test is stale)"
while read -r group verb; do
	"$ESTADM" help "$group" "$verb" > help.out 2>&1 || fail "the EJBCA guide names estadm $group $verb, which does not exist"
done <<< "$cmds"
ok "coming-from-ejbca.md: all $(echo "$cmds" | wc -l) estadm commands it names exist"
finish
