#!/usr/bin/env bash
# The manual pages (issue 14, point 6): estd(8), estd.conf(5), estadm(8)
# and estclient(1) are made by the build from scdoc sources (estd.conf(5)
# from docs/configuration.md), render without a single groff warning, and
# stay complete: every option a program accepts is in its page, every key
# the configuration parser knows is in estd.conf(5). The converter keeps
# text that looks like markup (a wildcard, an underscore, a bracket at the
# start of a line, a backslash) as it is.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
command -v man > /dev/null || { echo "skipped: no man (apt-get install man-db)"; exit 77; }
command -v scdoc > /dev/null || fail "scdoc is missing, yet the build made the pages"
M="$ESTKIT_BIN/man"

# Each page renders, with no warning from groff, as what it claims to be.
for page in estd.8 estadm.8 estclient.1 estd.conf.5; do
	[ -s "$M/$page" ] || fail "the build did not make $page"
	MANWIDTH=80 man --warnings -E UTF-8 -l "$M/$page" > "$T/$page.txt" 2> "$T/$page.err" ||
		fail "man cannot render $page: $(cat "$T/$page.err")"
	[ ! -s "$T/$page.err" ] || fail "$page renders with warnings: $(head -n 5 "$T/$page.err")"
	name=${page%.*}
	section=${page##*.}
	head -n 1 "$T/$page.txt" | grep_all -i "^${name}(${section})" ||
		fail "$page is headed $(head -n 1 "$T/$page.txt")"
	grep_all -E "^NAME$" "$T/$page.txt" && grep_all -E "^ +$name - " "$T/$page.txt" ||
		fail "$page has no NAME line"
done
ok "estd(8), estadm(8), estclient(1), estd.conf(5) are made by the build and render without warnings"

# Every option in the getopt tables of a program is in its page.
for prog in estd estadm estclient; do
	page=$(cd "$M" && ls "$prog".[18])
	src=("$ESTKIT_SRC/src/$prog"/*.c)
	longs=$(grep -ohE '\{ *"[a-z0-9-]+", *(no|required|optional)_argument' "${src[@]}" |
		sed -E 's/\{ *"([^"]+)".*/\1/' | sort -u)
	[ -n "$longs" ] || fail "no long options found for $prog (test is stale)"
	# Wide enough that no option is broken across lines.
	MANWIDTH=1000 man -E UTF-8 -l "$M/$page" > "$T/$page.wide" 2> /dev/null
	for o in $longs; do
		grep -qE -- "--$o([^a-z0-9-]|$)" "$T/$page.wide" || fail "$page does not document --$o"
	done
	ok "$page documents all $(echo "$longs" | wc -w) long options of $prog"
done

# Every command estadm --help lists is in estadm(8)'s SYNOPSIS (db import
# once was not).
awk '/^SYNOPSIS$/ { on = 1; next } /^[A-Z]/ { on = 0 } on' "$T/estadm.8.wide" | tr -s ' \n' ' ' > "$T/estadm.synopsis"
cmds=$("$ESTADM" --help | sed -nE 's/^  estadm ([a-z]+( [a-z][a-z-]+)?).*/\1/p' | sort -u)
[ "$(echo "$cmds" | wc -l)" -ge 30 ] || fail "too few commands in estadm --help (test is stale): $cmds"
while read -r cmd; do
	grep_all -F -- "$cmd" "$T/estadm.synopsis" || fail "estadm(8)'s SYNOPSIS lacks $cmd"
done <<< "$cmds"
ok "estadm(8)'s SYNOPSIS names all $(echo "$cmds" | wc -l) commands of estadm --help"

# Every key of the configuration parser is a tagged paragraph of estd.conf(5).
keys=$(grep -ohE '\{ *S_[A-Z]+, *"[a-z0-9-]+", *OPT_' "$ESTKIT_SRC/lib/config/"*.c |
	sed -E 's/.*"([^"]+)".*/\1/' | sort -u)
[ "$(echo "$keys" | wc -w)" -ge 40 ] || fail "too few configuration keys found (test is stale): $keys"
for k in $keys; do
	# A row may name several keys: "ocsp-certificate, ocsp-key (default: none)".
	grep -qE "^ {7}([a-z0-9-]+, )*$k(, [a-z0-9-]+)* \(default: " "$T/estd.conf.5.txt" ||
		fail "estd.conf(5) does not document $k"
done
ok "estd.conf(5) documents all $(echo "$keys" | wc -w) configuration keys, each with its default"

# The configuration reference and the page say the same: a sentence of
# docs/configuration.md is in the page.
grep_all 'What a reload keeps' "$T/estd.conf.5.txt" || fail "estd.conf(5) is not docs/configuration.md"
ok "estd.conf(5) is made from docs/configuration.md"

# The attacker's side: text that looks like markup in the Markdown source.
cat > "$T/odd.md" <<'MD'
# title

| key | default | meaning |
|---|---|---|
| `dns-names` | `*.example.com` | [brackets] first, max_active, a\b and `*_x_*` |

[a bracketed start] of a paragraph with __dunder__ and * stars *
MD
printf 'ODD(5)\n\n# NAME\n\nodd - a test\n\n# DESCRIPTION\n\n@BODY@\n' > "$T/odd.scd.in"
python3 "$ESTKIT_SRC/scripts/man-from-markdown.py" "$T/odd.scd.in" "$T/odd.md" "$T/odd.scd" ||
	fail "the converter failed on odd text"
scdoc < "$T/odd.scd" > "$T/odd.5" 2> "$T/scdoc.err" || fail "scdoc refused the converted odd text: $(cat "$T/scdoc.err")"
MANWIDTH=200 man --warnings -E UTF-8 -l "$T/odd.5" > "$T/odd.txt" 2> "$T/odd.err"
[ ! -s "$T/odd.err" ] || fail "odd text renders with warnings: $(cat "$T/odd.err")"
for want in 'dns-names \(default: \*\.example\.com\)' '\[brackets\] first, max_active, a\\b and \*_x_\*' \
    '\[a bracketed start\] of a paragraph with __dunder__ and \* stars \*'; do
	grep_all -E "$want" "$T/odd.txt" || fail "odd text changed: wanted /$want/ in $(cat "$T/odd.txt")"
done
ok "wildcards, underscores, a leading bracket and a backslash come through the converter unchanged"
finish
