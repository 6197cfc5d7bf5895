#!/usr/bin/env bash
# Every program (issue 14, point 6) answers --version with its name and the
# version, and --help (exit 0, on standard output) lists every option it
# accepts: each long option of the getopt tables in src/PROGRAM/*.c and
# each letter of their option strings. A new option without a line in
# --help fails here.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
version=$(sed -n 's/^project(estkit VERSION \([0-9.]*\).*/\1/p' "$ESTKIT_SRC/CMakeLists.txt")
[ -n "$version" ] || fail "no version in CMakeLists.txt"

# check_help NAME "COMMAND..." SOURCES...: COMMAND --help lists every option
# of the getopt tables in SOURCES.
check_help() {
	local name=$1 cmd=$2 longs shorts o s
	shift 2
	# shellcheck disable=SC2086
	$cmd --help > "$T/help" 2> "$T/err" || fail "$name --help exited non-zero"
	[ -s "$T/help" ] && [ ! -s "$T/err" ] || fail "$name --help does not print on standard output"
	longs=$(grep -ohE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' "$@" |
		sed -E 's/\{ *"([^"]+)".*/\1/' | sort -u)
	[ -n "$longs" ] || fail "no long options found for $name (test is stale)"
	for o in $longs; do
		grep -qE -- "--$o([^a-z0-9-]|$)" "$T/help" || fail "$name --help does not list --$o"
	done
	shorts=$({ grep -ohE 'getopt_long\([^,]+, *[^,]+, *"[^"]*"' "$@" || true
		grep -ohE 'short_opts\[\] = "[^"]*"' "$@" || true; } | sed -E 's/.*"([^"]*)"$/\1/')
	for s in $(echo "$shorts" | tr -d ':+?\n' | fold -w1 | sort -u); do
		grep -qE -- "(^|[^a-zA-Z0-9-])-$s([^a-zA-Z0-9-]|$)" "$T/help" || fail "$name --help does not list -$s"
	done
	ok "$name: --help lists all $(echo "$longs" | wc -w) long and $(echo "$shorts" | tr -d ':+?\n' | fold -w1 | sort -u | wc -l) short options"
}

for prog in estd estadm estclient; do
	bin="$ESTKIT_BIN/$prog"
	[ -x "$bin" ] || fail "$prog is not built"
	v=$("$bin" --version) || fail "$prog --version exited non-zero"
	case "$v" in "$prog "*"$version") ;; *) fail "$prog --version: $v" ;; esac
	ok "$prog --version: $v"
	# estclient renew is a command of its own, with its own options and --help.
	src=()
	for f in "$ESTKIT_SRC/src/$prog"/*.c; do
		case $f in */renew_*.c) ;; *) src+=("$f") ;; esac
	done
	check_help "$prog" "$bin" "${src[@]}"
done
check_help "estclient renew" "$ESTKIT_BIN/estclient renew" "$ESTKIT_SRC"/src/estclient/renew_*.c

# estadm help GROUP VERB prints that command's usage alone, as GROUP VERB --help does.
"$ESTKIT_BIN/estadm" help ca import > "$T/help" || fail "estadm help ca import exited non-zero"
"$ESTKIT_BIN/estadm" ca import --help | cmp -s - "$T/help" \
	|| fail "estadm help ca import: $(cat "$T/help")"
rc=0
"$ESTKIT_BIN/estadm" help ca bogus > /dev/null 2> "$T/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown ca command "bogus"' "$T/err" || fail "estadm help ca bogus: $rc $(cat "$T/err")"
ok "estadm help ca import prints that command alone; help ca bogus is a usage error"

# The attacker's side of a command line: unknown options are usage errors.
for prog in estd estadm; do
	rc=0
	"$ESTKIT_BIN/$prog" --no-such-option > /dev/null 2> "$T/err" || rc=$?
	[ "$rc" = 2 ] || fail "$prog with an unknown option exited $rc"
	grep -q usage "$T/err" || fail "$prog does not show its usage on a bad option"
done
ok "an unknown option is a usage error (exit 2, usage on standard error)"
finish
