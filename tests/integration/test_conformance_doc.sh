#!/usr/bin/env bash
# docs/conformance.md and the tests agree on which test checks which item of
# the conformance checklist (the IDs that tests cite in comments and names):
# (1) every test file a row of the doc names exists and cites that row's ID;
# (2) every ID a file under tests/ cites has a row, and the row names that
# file; (3) when the checklist is beside the source tree
# (../shared/est-conformance.md, or under ESTKIT_SHARED, as in CI), the doc has
# one row for each of its items and none for an item it lacks. A plain clone
# runs (1) and (2) and reports the test skipped.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
DOC="$ESTKIT_SRC/docs/conformance.md"
# The checklist's item IDs; its CMC-REF holds reference values, not an item.
ID='((EST-[GSCEX]|COAP-[GSCR])-[0-9]+|CB-[0-9]+|ASN-[0-9]+)'

# cites_of DIR: "ID FILE" for each ID a text file under DIR names, FILE relative
# to DIR. This script is left out: it names IDs only to test itself.
cites_of() {
	(cd "$1" || exit 1; grep -rIoE --exclude=test_conformance_doc.sh "\\b$ID\\b" . || true) |
		sed -E 's|^\./([^:]*):(.*)$|\2 \1|' | sort -u
}

# rows_of DOC: "ID FILE" for each file in backquotes in the last cell (tests)
# of a table row whose first cell is an ID; "ID -" for a row naming none.
rows_of() {
	awk -F'|' -v re="^ $ID \$" '
		/^\|/ && $2 ~ re {
			id = $2; gsub(/ /, "", id); c = $(NF - 1); n = 0
			while (match(c, /`[^`]+`/)) {
				print id, substr(c, RSTART + 1, RLENGTH - 2)
				c = substr(c, RSTART + RLENGTH); n++
			}
			if (n == 0) print id, "-"
		}' "$1" | sort -u
}

# ids_of DOC: the ID of each row, once per row (a repeated row shows twice).
ids_of() {
	awk -F'|' -v re="^ $ID \$" '/^\|/ && $2 ~ re { id = $2; gsub(/ /, "", id); print id }' "$1" | sort
}

# named_not_citing ROWS CITES: files a row names that do not cite its ID (or
# do not exist, which cites_of cannot list). cited_not_named: the other way.
named_not_citing() { grep -v ' -$' "$1" | comm -23 - "$2"; }
cited_not_named() { comm -13 "$1" "$2"; }

cites_of "$ESTKIT_SRC/tests" > "$T/cites"
rows_of "$DOC" > "$T/rows"
ids_of "$DOC" > "$T/ids"
[ "$(wc -l < "$T/cites")" -ge 100 ] || fail "too few IDs cited under tests/ (test is stale): $(wc -l < "$T/cites")"
[ "$(wc -l < "$T/ids")" -ge 150 ] || fail "too few rows found in docs/conformance.md (test is stale): $(wc -l < "$T/ids")"

uniq -d "$T/ids" > "$T/twice"
[ ! -s "$T/twice" ] || fail "docs/conformance.md has more than one row for: $(tr '\n' ' ' < "$T/twice")"
named_not_citing "$T/rows" "$T/cites" > "$T/bad"
[ ! -s "$T/bad" ] || fail "docs/conformance.md names tests that are missing or do not cite the row's ID: $(tr '\n' ';' < "$T/bad")"
ok "each of the $(grep -vc ' -$' "$T/rows") tests named in the rows of docs/conformance.md exists and cites the row's ID"
cited_not_named "$T/rows" "$T/cites" > "$T/bad"
[ ! -s "$T/bad" ] || fail "tests cite IDs whose row in docs/conformance.md does not name them (add the file to the row's tests): $(tr '\n' ';' < "$T/bad")"
ok "each of the $(cut -d' ' -f1 "$T/cites" | sort -u | wc -l) IDs cited under tests/ has a row naming every test that cites it"

if LIST=$(shared_doc est-conformance.md); then
	grep -oE "^- \*\*$ID\*\*" "$LIST" | sed -E 's/^- \*\*//; s/\*\*$//' | sort -u > "$T/list"
	[ "$(wc -l < "$T/list")" -ge 150 ] || fail "too few items found in $LIST (test is stale): $(wc -l < "$T/list")"
	comm -23 "$T/list" "$T/ids" > "$T/bad"
	[ ! -s "$T/bad" ] || fail "items of $LIST without a row in docs/conformance.md: $(tr '\n' ' ' < "$T/bad")"
	comm -13 "$T/list" "$T/ids" > "$T/bad"
	[ ! -s "$T/bad" ] || fail "docs/conformance.md has rows for items that $LIST lacks: $(tr '\n' ' ' < "$T/bad")"
	ok "docs/conformance.md has one row for each of the $(wc -l < "$T/list") items of the checklist, and no other"
else
	skip_part "the conformance checklist is not at $LIST: rows not compared with it"
fi

# The checks themselves. A citation in a test file is found, in a shell
# comment and a C comment, whole IDs only, and this script is not read.
mkdir -p "$T/tree/integration" "$T/tree/unit"
printf '# the answer (EST-S-41, CB-05)\n' > "$T/tree/integration/test_a.sh"
printf '/* COAP-S-04; EST-S-41a is a word, not an ID */\n' > "$T/tree/unit/test_b.c"
printf '# EST-G-01\n' > "$T/tree/integration/test_conformance_doc.sh"
cites_of "$T/tree" > "$T/tree.cites"
printf '%s\n' 'CB-05 integration/test_a.sh' 'COAP-S-04 unit/test_b.c' 'EST-S-41 integration/test_a.sh' |
	diff - "$T/tree.cites" > /dev/null || fail "citations found in a test tree: $(tr '\n' ';' < "$T/tree.cites")"
# A new citation the doc does not name is caught...
{ cat "$T/cites"; echo "EST-S-41 integration/test_a.sh"; } | sort -u > "$T/more.cites"
cited_not_named "$T/rows" "$T/more.cites" | grep_all -x 'EST-S-41 integration/test_a.sh' ||
	fail "a test citing an ID its row does not name went unnoticed"
# ...and so is a row naming a test that does not cite the ID, or does not exist.
first=$(head -1 "$T/ids")
awk -v id="$first" -F'|' '$2 == " " id " " { sub(/ \|$/, ", `unit/no_such_test.c` |") } { print }' "$DOC" > "$T/named.md"
rows_of "$T/named.md" | named_not_citing - "$T/cites" | grep_all -x "$first unit/no_such_test.c" ||
	fail "a row naming a test that does not exist went unnoticed"
# A dropped row: its ID's citations are no longer named, and the checklist misses it.
dropped=$(head -1 "$T/cites" | cut -d' ' -f1)
awk -v id="$dropped" -F'|' '$2 != " " id " "' "$DOC" > "$T/dropped.md"
rows_of "$T/dropped.md" | cited_not_named - "$T/cites" | grep_all "^$dropped " ||
	fail "a dropped row whose ID tests cite went unnoticed"
ids_of "$T/dropped.md" | comm -13 - "$T/ids" | grep_all -x "$dropped" ||
	fail "a dropped row went unnoticed by the comparison of IDs"
ok "a citation the doc lacks, a test named that does not cite, and a dropped row are each caught"
finish
