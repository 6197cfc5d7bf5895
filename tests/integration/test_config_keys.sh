#!/usr/bin/env bash
# docs/configuration.md (and so estd.conf(5), made from it) and the
# configuration parser know the same keys, section by section: a key the
# reference documents must be one estd takes in that section, and every key
# estd takes must be in that section's table. test_man.sh checks the page
# for the parser's names; this catches the other direction (a documented key
# estd refuses as unknown) and a key documented under the wrong section.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
DOC="$ESTKIT_SRC/docs/configuration.md"

# The parser's table: { S_SECTION, "key", OPT_... }, as "section key".
grep -ohE '\{ *S_[A-Z]+, *"[a-z0-9-]+", *OPT_' "$ESTKIT_SRC/lib/config/"*.c |
	sed -E 's/\{ *S_([A-Z]+), *"([^"]+)".*/\1 \2/' | tr 'A-Z' 'a-z' | sort -u > "$T/code"
[ "$(wc -l < "$T/code")" -ge 40 ] || fail "too few keys found in lib/config (test is stale): $(cat "$T/code")"

# keys_of FILE: the first cells of the key tables under "## [section ...]"
# headings, as "section key"; a cell may name several keys.
keys_of() {
	awk '/^## \[/ { s = $2; sub(/^\[/, "", s); sub(/\]$/, "", s); next }
	     /^#/ { s = ""; next }
	     s != "" && /^\| `/ {
		split($0, cell, "|"); c = cell[2]
		while (match(c, /`[a-z0-9-]+`/)) {
			print s, substr(c, RSTART + 1, RLENGTH - 2)
			c = substr(c, RSTART + RLENGTH)
		}
	     }' "$1" | sort -u
}
keys_of "$DOC" > "$T/doc"
for s in server listener ca profile alias; do
	grep_all "^$s " "$T/doc" || fail "no key table found for [$s] in docs/configuration.md (test is stale)"
done

comm -13 "$T/code" "$T/doc" > "$T/unknown"
[ ! -s "$T/unknown" ] || fail "docs/configuration.md documents keys estd does not take there: $(tr '\n' ';' < "$T/unknown")"
comm -23 "$T/code" "$T/doc" > "$T/undocumented"
[ ! -s "$T/undocumented" ] || fail "estd takes keys docs/configuration.md does not document there: $(tr '\n' ';' < "$T/undocumented")"
ok "docs/configuration.md and lib/config agree on all $(wc -l < "$T/code") keys, section by section"

# The check itself: a key documented but unknown, one documented under
# another section, and one the parser knows but the reference left out
# are each found.
sed 's/^| `realm` |/| `realm-name` |/' "$DOC" > "$T/renamed.md"
keys_of "$T/renamed.md" | comm -13 "$T/code" - | grep_all -x 'server realm-name' ||
	fail "a documented key estd does not know went unnoticed"
keys_of "$T/renamed.md" | comm -23 "$T/code" - | grep_all -x 'server realm' ||
	fail "a key estd knows but the reference leaves out went unnoticed"
awk '/^## \[listener/ { print; print ""; print "| `realm` | x | y |"; next } { print }' "$DOC" > "$T/moved.md"
keys_of "$T/moved.md" | comm -13 "$T/code" - | grep_all -x 'listener realm' ||
	fail "a key documented under the wrong section went unnoticed"
ok "a renamed, a missing and a misplaced key are each caught"
finish
