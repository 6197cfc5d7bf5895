#!/usr/bin/env bash
# `estadm db import` into a store that already holds a CRL (docs/deployment.md's
# move: db create, then db import; an estd started on the new store meanwhile
# makes CRL number 1 at once, as does `estadm crl generate`). The import used to
# take every certificate and end entity and fail only at the exported CRL
# ("CRL number N ... was taken by another writer"), leaving a half-moved store
# that a second import refused, and a CRL number that starts again below the
# ones relying parties have already seen (RFC 5280 §5.2.3: it only grows). It
# is refused before anything is written, and says why.
. "$(dirname "$0")/lib.sh"
init_demo
CONF="$T/var/estd.conf"
cd "$T"
start_estd
enrol_demo a
"$ESTADM" -c "$CONF" cert revoke "$(openssl x509 -in a.pem -noout -serial | cut -d= -f2)" >/dev/null
"$ESTADM" -c "$CONF" crl generate >/dev/null
"$ESTADM" -c "$CONF" db export > ex.jsonl
grep_all '"type":"crl"' ex.jsonl || fail "the export holds no CRL"

sed "s|^store = .*|store = sqlite:new.db|" "$CONF" > var/new.conf
"$ESTADM" -c var/new.conf db create >/dev/null
"$ESTADM" -c var/new.conf crl generate >/dev/null
"$ESTADM" -c var/new.conf db import ex.jsonl > out.txt 2>&1 && fail "imported over a CRL made meanwhile"
grep_all 'holds records already (a CRL' out.txt || fail "unclear refusal: $(cat out.txt)"
[ -z "$("$ESTADM" -c var/new.conf cert list | tail -n +2)" ] || fail "the refused import left certificates behind"
ok "db import into a store holding a CRL is refused before any record is written, and says why"

sed "s|^store = .*|store = sqlite:fresh.db|" "$CONF" > var/fresh.conf
"$ESTADM" -c var/fresh.conf db create >/dev/null
"$ESTADM" -c var/fresh.conf db import ex.jsonl >/dev/null || fail "import into a fresh store"
"$ESTADM" -c var/fresh.conf db export | cmp -s - ex.jsonl || fail "the fresh store differs from the export"
ok "the same export goes into a fresh store unchanged"
finish
