#!/usr/bin/env bash
# Several estd on one PostgreSQL database (issue 13): the store URI and its
# password file, schema versions and `estadm db migrate`, and what must hold
# across servers: one one-time code gives one certificate when 50 requests
# reach two servers at once; concurrent enrolment on both gives no
# duplicate serial (and the database refuses one); a certificate replaced
# or revoked through one server is refused renewal by the other at once;
# max-active-certificates holds across servers; approvals are seen by both;
# PostgreSQL stopped mid-run gives 503 with Retry-After and loses nothing;
# kill -9 of one estd under load loses no certificate a client received;
# db export / db import move the populated store to SQLite and back unchanged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_start
init_demo
CONF="$T/var/estd.conf"
ADM=("$ESTADM" -c "$CONF")
sed -i "s|^store = .*|store = $PG_URI|" "$CONF"
sed -i 's/^\[server\]$/[server]\nworkers = 2/' "$CONF"
sed -i 's/^\[alias est\]$/[alias est]\nrevoke-replaced = yes/' "$CONF"
cat >> "$CONF" <<'EOF'
[alias limited]
mode = client
ca = ManagementCA
profile = tls-client
username-component = CN
authentication = challenge-password
max-active-certificates = 1
EOF
cd "$T"

# ---- the store URI, the schema ----

"$ESTD" -c "$CONF" -n > out.txt 2>&1 && fail "estd ran on a database without a store"
grep_all 'holds no estkit store.*estadm db create' out.txt || fail "estd -n says: $(cat out.txt)"
ok "estd refuses a database without an estkit store and says to run estadm db create"

sed "s|^store = postgresql://estkit@|store = postgresql://estkit:pg-secret-4711@|" "$CONF" > var/pw.conf
"$ESTD" -c var/pw.conf -n > out.txt 2>&1 && fail "estd took a password in the store URI"
grep_all 'carries a password' out.txt || fail "password in the URI: $(cat out.txt)"
! grep -q 'pg-secret-4711' out.txt || fail "the password reached the output: $(cat out.txt)"
ok "a password in the store URI is refused, and not repeated in the message"

sed "s|?passfile=.*$||" "$CONF" > var/nopass.conf
PGPASSFILE="$PG_PASSFILE" "$ESTADM" -c var/nopass.conf db create > out.txt 2>&1 ||
    fail "db create with PGPASSFILE: $(cat out.txt)"
ok "the password is read from PGPASSFILE (estadm db create)"
"${ADM[@]}" db create > out.txt 2>&1 && fail "db create made a second store over the first"
grep_all 'holds an estkit store already' out.txt || fail "second db create: $(cat out.txt)"
ok "db create refuses a database that holds a store (passfile= in the URI)"

"${ADM[@]}" db migrate | grep_all 'at version 8 already' || fail "db migrate on a current store"
psql_su "UPDATE estkit_schema SET version = 9" estkit
"${ADM[@]}" ee list > out.txt 2>&1 && fail "a newer schema was used"
grep_all 'schema version 9 is newer than this estkit' out.txt || fail "newer schema: $(cat out.txt)"
# Back to version 3: undo steps 8, 7 (nothing to undo), 6, 5 and 4, then let db migrate make them again.
psql_su "ALTER TABLE certs DROP CONSTRAINT certs_serial_issuer_key;
    ALTER TABLE certs ADD CONSTRAINT certs_issuer_serial_key UNIQUE (issuer, serial);
    CREATE INDEX certs_serial ON certs (serial); DROP TABLE ee_names; DROP INDEX certs_ee; CREATE INDEX certs_ee ON certs (ee_id);
    CREATE INDEX certs_subject ON certs (subject); CREATE INDEX certs_spki ON certs (spki_sha256);
    DROP TRIGGER certs_revoked ON certs; DROP FUNCTION estkit_count_revocation();
    DROP INDEX certs_revoked_by_issuer; DROP TABLE crls, revocation_counts;
    UPDATE estkit_schema SET version = 3" estkit
"$ESTD" -c "$CONF" -n > out.txt 2>&1 && fail "estd ran on an older schema"
grep_all 'schema version 3 is older.*estadm db migrate' out.txt || fail "older schema: $(cat out.txt)"
"${ADM[@]}" db migrate | grep_all 'from version 3 to 8' || fail "db migrate from 3"
"${ADM[@]}" db check | grep_all 'passed' || fail "db check after the migration"
ok "estd refuses a newer or older schema and says what to do; db migrate brings 3 to 8"

"${ADM[@]}" ca import --external VendorSubCA "$ESTKIT_SRC/tests/fixtures/vendor/VendorSubCAEC384.cacert.pem" >/dev/null
"${ADM[@]}" ca import --external VendorRootCA "$ESTKIT_SRC/tests/fixtures/vendor/VendorRootCAEC384.cacert.pem" >/dev/null

# ---- two servers ----

# The second node: the same CA, keys and configuration in a directory of its own.
cp -a "$T/var" "$T/var2"
start_estd
EST1=$EST MEST1=$MEST
rm -f ready2
"$ESTD" -c "$T/var2/estd.conf" --ready-file "$T/ready2" >> estd2.log 2>&1 &
ESTD2_PID=$!
for _ in $(seq 100); do [ -f ready2 ] && break; sleep 0.1; done
[ -f ready2 ] || fail "the second estd did not start: $(tail -n 5 estd2.log)"
EST2="https://127.0.0.1:$(awk '$1=="tls"{print $2}' ready2)/.well-known/est"
MEST2="https://127.0.0.1:$(awk '$1=="mtls"{print $2}' ready2)/.well-known/est"
PK=(-H 'Content-Type: application/pkcs10')

# post URL DER OUT [curl args]: the HTTP status; the body in OUT.
post() {
	local url=$1 der=$2 out=$3; shift 3
	curl -s -o "$out" -w '%{http_code}\n' --cacert "$TA" "${PK[@]}" --data-binary @"$der" "$@" "$url"
}

# The user's side: an end entity registered on one server enrols on the other.
"${ADM[@]}" ee add --username dev1 --dn CN=dev1 --alias est --password - <<< "code-dev1" >/dev/null
code_csr dev1 dev1 code-dev1
[ "$(post "$EST2/simpleenroll" dev1.der dev1.p7)" = 200 ] || fail "dev1 on server 2: $(cat dev1.p7)"
ok "an end entity registered through the database enrols on the second server"

# The attacker's side: one one-time code, 50 requests, two servers, one moment.
"${ADM[@]}" ee add --username race --dn CN=race --alias est --password - <<< "code-race" >/dev/null
code_csr race race code-race
pids=()
for i in $(seq 50); do
	if [ $((i % 2)) = 0 ]; then url=$EST1; else url=$EST2; fi
	( post "$url/simpleenroll" race.der "race$i.out" > "race$i.st" ) & pids+=($!)
done
wait "${pids[@]}"
wins=$(cat race*.st | grep -c '^200$' || true)
[ "$wins" = 1 ] || fail "50 uses of one code on two servers: $wins certificates ($(sort race*.st | uniq -c | tr '\n' ' '))"
[ "$("${ADM[@]}" cert list --subject CN=race | grep -c valid)" = 1 ] || fail "the store holds more than one race certificate"
ok "50 concurrent uses of one one-time code across two servers give exactly one certificate"

# Concurrent enrolment on both servers: no duplicate serial.
for i in $(seq 24); do mkcsr "c$i"; done
pids=()
for i in $(seq 24); do
	if [ $((i % 2)) = 0 ]; then url=$EST1; else url=$EST2; fi
	( curl -s -o "c$i.p7" -w '%{http_code}\n' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
	    --data-binary @"c$i.b64" "$url/simpleenroll" > "c$i.st" ) & pids+=($!)
done
wait "${pids[@]}"
[ "$(cat c*.st | grep -c '^200$')" = 24 ] || fail "concurrent enrolment: $(sort c*.st | uniq -c | tr '\n' ' ')"
for i in $(seq 24); do p7_to_pem "c$i.p7" "c$i.pem"; openssl x509 -in "c$i.pem" -noout -serial; done | sort > serials.txt
[ "$(sort -u serials.txt | wc -l)" = 24 ] || fail "duplicate serials: $(uniq -d serials.txt)"
for i in $(seq 24); do
	"${ADM[@]}" cert show "$(sed -n "${i}p" serials.txt | cut -d= -f2)" >/dev/null || fail "serial $i not on record"
done
ok "24 concurrent enrolments on two servers: 24 distinct serials, all on record"
psql_su "INSERT INTO certs (issuer, serial, subject, spki_sha256, not_before, not_after,
    issued_at, status, der) SELECT issuer, serial, 'CN=copy', spki_sha256, not_before, not_after,
    issued_at, status, der FROM certs LIMIT 1" estkit > out.txt 2>&1 && fail "the database took a duplicate serial"
grep_all 'duplicate key' out.txt || fail "duplicate serial insert: $(cat out.txt)"
ok "the database itself refuses a second certificate with an issuer's serial"

# Renewal through one server revokes the replaced certificate for the other at once.
p7_to_pem dev1.p7 dev1.pem
[ "$(post "$MEST1/simplereenroll" dev1.der renew.p7 --cert dev1.pem --key dev1.key)" = 200 ] ||
    fail "renewal on server 1: $(cat renew.p7)"
[ "$(post "$MEST2/simplereenroll" dev1.der again.txt --cert dev1.pem --key dev1.key)" = 403 ] ||
    fail "the replaced certificate renewed on server 2: $(cat again.txt)"
grep_all revoked again.txt || fail "403 does not say revoked: $(cat again.txt)"
ok "a certificate replaced through one server is refused renewal by the other at once"
p7_to_pem renew.p7 renew.pem
"${ADM[@]}" cert revoke "$(openssl x509 -in renew.pem -noout -serial | cut -d= -f2)" --reason keyCompromise >/dev/null
[ "$(post "$MEST2/simplereenroll" dev1.der again.txt --cert renew.pem --key dev1.key)" = 403 ] ||
    fail "a revoked certificate renewed on server 2: $(cat again.txt)"
[ "$(post "$MEST1/simplereenroll" dev1.der again.txt --cert renew.pem --key dev1.key)" = 403 ] ||
    fail "a revoked certificate renewed on server 1: $(cat again.txt)"
ok "a revoked certificate is refused renewal by both servers at once"

# max-active-certificates = 1 across servers: unlimited uses, two servers, one moment.
"${ADM[@]}" ee add --username lim --dn CN=lim --alias limited --unlimited --password - <<< "code-lim" >/dev/null
code_csr lim lim code-lim
pids=()
for i in $(seq 10); do
	if [ $((i % 2)) = 0 ]; then url=$EST1/limited; else url=$EST2/limited; fi
	( post "$url/simpleenroll" lim.der "lim$i.out" > "lim$i.st" ) & pids+=($!)
done
wait "${pids[@]}"
[ "$(cat lim*.st | grep -c '^200$')" = 1 ] || fail "max-active 1 across servers: $(sort lim*.st | uniq -c | tr '\n' ' ')"
ok "max-active-certificates holds across two servers enrolling at once"

# An approval decided through the database is seen by both servers.
mkcsr apr
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
    --data-binary @apr.b64 "$EST1/approval/simpleenroll")" = 202 ] || fail "no 202 for approval"
id=$("${ADM[@]}" req list | awk '$2=="pending"{print $1; exit}')
"${ADM[@]}" req approve "$id" >/dev/null
[ "$(curl -s -o apr.p7 -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
    --data-binary @apr.b64 "$EST2/approval/simpleenroll")" = 200 ] || fail "approved request on server 2"
ok "a request held by one server and approved is issued by the other"

# ---- outages ----

before=$("${ADM[@]}" cert list | wc -l)
pg_stop
mkcsr down
curl -s -D down.hdr -o down.txt -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
    --data-binary @down.b64 "$EST1/simpleenroll" > down.st
[ "$(cat down.st)" = 503 ] || fail "enrolment without the database: $(cat down.st) $(cat down.txt)"
grep_all -i '^Retry-After: [0-9]' down.hdr || fail "503 without Retry-After: $(cat down.hdr)"
ok "with PostgreSQL stopped, enrolment gets 503 with Retry-After"
pg_restart
for i in $(seq 10); do
	st=$(curl -s -o down.p7 -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
	    --data-binary @down.b64 "$EST1/simpleenroll") || true
	[ "$st" = 200 ] && break
	sleep 0.2
done
[ "$st" = 200 ] || fail "after PostgreSQL returned: $st $(cat down.p7)"
[ "$(("$("${ADM[@]}" cert list | wc -l)" - before))" = 1 ] || fail "the outage left records behind"
ok "after PostgreSQL returns, estd reconnects; nothing was recorded for the 503"

# PostgreSQL stopped and started again under load on both servers: every
# certificate a client received is on record, and nothing is half-recorded
# (each use spent of the end entity's code has its certificate).
"${ADM[@]}" ee add --username bulk --dn CN=bulk --alias est --uses 100 --password - <<< "code-bulk" >/dev/null
code_csr bulk bulk code-bulk
pids=()
for i in $(seq 30); do
	if [ $((i % 2)) = 0 ]; then url=$EST1; else url=$EST2; fi
	( post "$url/simpleenroll" bulk.der "bulk$i.p7" > "bulk$i.st" ) & pids+=($!)
	[ "$i" = 10 ] && pg_stop
	[ "$i" = 20 ] && pg_restart
	sleep 0.1
done
wait "${pids[@]}"
got=0
for i in $(seq 30); do
	case $(cat "bulk$i.st") in
	200)
		p7_to_pem "bulk$i.p7" "bulk$i.pem"
		"${ADM[@]}" cert show "$(openssl x509 -in "bulk$i.pem" -noout -serial | cut -d= -f2)" >/dev/null ||
		    fail "bulk$i was received but is not on record"
		got=$((got + 1)) ;;
	503) ;;
	*) fail "bulk$i: HTTP $(cat "bulk$i.st") during the outage: $(cat "bulk$i.p7")" ;;
	esac
done
left=$("${ADM[@]}" ee show bulk | awk '/^uses left:/{print $3}')
recorded=$("${ADM[@]}" cert list --subject CN=bulk | grep -c ' valid ' || true)
[ "$recorded" = $((100 - left)) ] || fail "half-recorded: $((100 - left)) uses spent, $recorded certificates"
[ "$got" -le "$recorded" ] && [ "$(cat bulk*.st | grep -c '^503$')" -ge 1 ] ||
    fail "outage under load: $got received, $recorded recorded, $(cat bulk*.st | grep -c '^503$') refused"
ok "PostgreSQL stopped under load: 503s, all $got received certificates on record, $recorded recorded for $((100 - left)) uses spent"

# A database that hangs (stopped, not gone: its kernel still acks) is waited for
# a bounded time, then 503; when it resumes, estd reconnects.
pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
pg_procs=("$pm" $(pgrep -P "$pm"))
kill -STOP "${pg_procs[@]}"
mkcsr hang
st=$(curl -s -D hang.hdr -o hang.txt -w '%{http_code}' --max-time 40 --cacert "$TA" -u estuser:estpwd \
    "${PK[@]}" --data-binary @hang.b64 "$EST1/simpleenroll") || true
kill -CONT "${pg_procs[@]}"
[ "$st" = 503 ] || fail "a hung database: HTTP $st (curl gave up after 40 s: 000)"
grep_all -i '^Retry-After: [0-9]' hang.hdr || fail "503 without Retry-After for a hung database"
for i in $(seq 10); do
	st=$(curl -s -o hang.p7 -w '%{http_code}' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
	    --data-binary @hang.b64 "$EST1/simpleenroll") || true
	[ "$st" = 200 ] && break
	sleep 0.2
done
[ "$st" = 200 ] || fail "after the database resumed: $st"
ok "a hung database: 503 with Retry-After after a bounded wait, then served again"

# kill -9 of one server under load: every certificate a client got is on record.
for i in $(seq 16); do mkcsr "k$i"; done
pids=()
for i in $(seq 16); do
	# Received means the whole answer: a kill between head and body leaves curl's 200 but no body.
	( curl -s -o "k$i.p7" -w '%{http_code}\n' --cacert "$TA" -u estuser:estpwd "${PK[@]}" \
	    --data-binary @"k$i.b64" "$EST2/simpleenroll" > "k$i.st" || echo 000 > "k$i.st" ) &
	pids+=($!)
done
# Kill it once some clients have their certificates and others still wait.
for _ in $(seq 400); do
	[ "$(cat k*.st 2>/dev/null | grep -c '^200$')" -ge 3 ] && break
	sleep 0.05
done
kill -9 "$ESTD2_PID"
wait "${pids[@]}" || true
got=0
for i in $(seq 16); do
	[ "$(cat "k$i.st")" = 200 ] || continue
	p7_to_pem "k$i.p7" "k$i.pem"
	"${ADM[@]}" cert show "$(openssl x509 -in "k$i.pem" -noout -serial | cut -d= -f2)" >/dev/null ||
	    fail "k$i was received but is not on record"
	got=$((got + 1))
done
[ "$got" -ge 3 ] || fail "no client got a certificate before the kill"
ok "kill -9 of one estd under load: all $got certificates clients received are on record"
grep -qE 'Sanitizer|runtime error:' estd2.log && fail "server 2: $(grep -E -m3 'Sanitizer|runtime error:' estd2.log)"

# ---- moving the deployment: PostgreSQL -> SQLite -> PostgreSQL ----

"${ADM[@]}" db export > pg.jsonl
for kind in external_ca end_entity certificate request crl; do
	grep_all "\"type\":\"$kind\"" pg.jsonl || fail "the export has no $kind"
done
grep_all '"status":"revoked"' pg.jsonl || fail "the export has no revocation"
grep_all '"code_hash":"pbkdf2-sha256\$' pg.jsonl || fail "the export has no hashed code"
! grep -q 'code-dev1\|code-race' pg.jsonl || fail "an enrolment code in clear in the export"
sed "s|^store = .*|store = sqlite:moved.db|" "$CONF" > var/sqlite.conf
"$ESTADM" -c var/sqlite.conf db create >/dev/null
"$ESTADM" -c var/sqlite.conf db import pg.jsonl >/dev/null || fail "import into SQLite"
"$ESTADM" -c var/sqlite.conf db export > sq.jsonl
cmp -s pg.jsonl sq.jsonl || fail "PostgreSQL -> SQLite changed records: $(diff pg.jsonl sq.jsonl | head -5)"
psql_su "CREATE DATABASE estkit2 OWNER estkit"
sed "s|/estkit?passfile|/estkit2?passfile|" "$CONF" > var/pg2.conf
"$ESTADM" -c var/pg2.conf db create >/dev/null
"$ESTADM" -c var/pg2.conf db import sq.jsonl >/dev/null || fail "import into PostgreSQL"
"$ESTADM" -c var/pg2.conf db export > pg2.jsonl
cmp -s sq.jsonl pg2.jsonl || fail "SQLite -> PostgreSQL changed records: $(diff sq.jsonl pg2.jsonl | head -5)"
ok "a populated store round-trips PostgreSQL -> SQLite -> PostgreSQL through db export/import, unchanged ($(wc -l < pg.jsonl) records)"

# The attacker's side: no import into a store with records; a bad line is named.
"$ESTADM" -c var/pg2.conf db import sq.jsonl > out.txt 2>&1 && fail "import doubled the records"
grep_all 'holds records already' out.txt || fail "second import: $(cat out.txt)"
# An export spoilt near its end: nothing of it stays (one transaction), and
# the same database then takes the good one.
psql_su "CREATE DATABASE estkit3 OWNER estkit"
sed "s|/estkit?passfile|/estkit3?passfile|" "$CONF" > var/pg3.conf
"$ESTADM" -c var/pg3.conf db create >/dev/null
{ head -n -1 sq.jsonl; echo '{"type":"certificate","serial":"01"}'; } > spoilt.jsonl
"$ESTADM" -c var/pg3.conf db import spoilt.jsonl > out.txt 2>&1 && fail "a spoilt export was imported"
[ "$("$ESTADM" -c var/pg3.conf db export | wc -l)" = 1 ] || fail "the failed import left records in PostgreSQL"
"$ESTADM" -c var/pg3.conf db import sq.jsonl >/dev/null || fail "import after a failed one"
"$ESTADM" -c var/pg3.conf db export | cmp -s - sq.jsonl || fail "the store after a failed import differs"
head -n 3 sq.jsonl > bad.jsonl
echo '{"type":"certificate","serial":"01","der":"not base64"}' >> bad.jsonl
sed "s|^store = .*|store = sqlite:bad.db|" "$CONF" > var/bad.conf
"$ESTADM" -c var/bad.conf db create >/dev/null
"$ESTADM" -c var/bad.conf db import bad.jsonl > out.txt 2>&1 && fail "a malformed export was imported"
grep_all 'bad.jsonl:4: "issuer" is missing' out.txt || fail "malformed line: $(cat out.txt)"
echo 'not json' > bad2.jsonl
sed "s|^store = .*|store = sqlite:bad2.db|" "$CONF" > var/bad2.conf
"$ESTADM" -c var/bad2.conf db create >/dev/null
"$ESTADM" -c var/bad2.conf db import bad2.jsonl > out.txt 2>&1 && fail "a file that is no export was imported"
grep_all 'bad2.jsonl:1: not a JSON object' out.txt || fail "not an export: $(cat out.txt)"
ok "import refuses a store with records, names the bad line of a malformed export, and leaves nothing of a failed one"
finish
