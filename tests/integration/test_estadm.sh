#!/usr/bin/env bash
# estadm end to end: init a server directory (every file, its mode, the TLS
# chain and names), refuse to init twice, key types, cert list/show/revoke
# against the store, user add/list/del against the credentials file, and a
# configuration error reported with FILE:LINE. Needs ESTKIT_BIN (the build
# directory) and openssl. Prints "ok - <what>" per check; stops at the first
# failure with "not ok - <what>: <why>".
set -euo pipefail

ADM="${ESTKIT_BIN:?set ESTKIT_BIN to the build directory}/estadm"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { echo "ok - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }
# grep -q that reads all its input (see lib.sh).
grep_all() { grep "$@" > /dev/null; }

# expect_status N WHAT CMD...: run CMD, require exit status N, keep its stderr.
expect_status() {
	local want=$1 what=$2 got=0
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err" || got=$?
	[ "$got" -eq "$want" ] || fail "$what: exit $got, expected $want ($(head -c 300 "$TMP/err"))"
}

D="$TMP/srv"
PORTS=(--http-port 0 --tls-port 0 --mtls-port 0)
CONF="$D/estd.conf"

# ---- init -------------------------------------------------------------------
"$ADM" init "$D" "${PORTS[@]}" >"$TMP/init.out" || fail "init exits 0"
grep -q "estd -c $D/estd.conf" "$TMP/init.out" || fail "init names the next command"
ok "init creates a server directory"

for f in ca.key ca.pem tls.key tls.pem estkit.db users estd.conf; do
	[ -f "$D/$f" ] || fail "init made $f"
done
ok "init made every file"

for f in ca.key tls.key users estkit.db; do
	m=$(stat -c %a "$D/$f")
	[ "$m" = 600 ] || fail "$f has mode $m, expected 600"
done
[ "$(stat -c %a "$D")" = 700 ] || fail "the new directory is not mode 700"
ok "keys, users and store are mode 600, the directory 700"

grep -q '^listen = 127.0.0.1:0$' "$CONF" || fail "estd.conf listens on 127.0.0.1:0"
grep -q '^\[ca ManagementCA\]$' "$CONF" || fail "estd.conf has [ca ManagementCA]"
grep -q '^store = sqlite:estkit.db$' "$CONF" || fail "estd.conf uses relative paths"
ok "estd.conf has the expected shape"

openssl verify -CAfile "$D/ca.pem" "$D/tls.pem" >/dev/null 2>&1 || fail "tls.pem verifies against ca.pem"
ok "openssl verify -CAfile ca.pem tls.pem"

[ "$(grep -c 'BEGIN CERTIFICATE' "$D/tls.pem")" -eq 2 ] || fail "tls.pem holds the TLS cert and the CA"
san=$(openssl x509 -in "$D/tls.pem" -noout -ext subjectAltName)
grep -q 'DNS:localhost' <<<"$san" || fail "tls.pem SAN has DNS:localhost ($san)"
grep -q 'IP Address:127.0.0.1' <<<"$san" || fail "tls.pem SAN has IP Address:127.0.0.1 ($san)"
ok "tls.pem has SAN DNS:localhost and IP Address:127.0.0.1, and the chain"

expect_status 1 "init into an initialised directory" "$ADM" init "$D" "${PORTS[@]}"
grep -q 'estd.conf already exists' "$TMP/err" || fail "second init says why: $(cat "$TMP/err")"
ok "init again into the same directory fails with exit 1"

# ---- key types ----------------------------------------------------------------
check_key_type() {
	local spec=$1 pattern=$2 dir="$TMP/k-${1//:/-}"
	"$ADM" init "$dir" "${PORTS[@]}" --key-type "$spec" >/dev/null || fail "init --key-type $spec"
	openssl pkey -in "$dir/ca.key" -noout -text 2>/dev/null | grep_all "$pattern" ||
		fail "CA key of --key-type $spec is not $pattern"
	openssl verify -CAfile "$dir/ca.pem" "$dir/tls.pem" >/dev/null 2>&1 ||
		fail "tls.pem verifies under a $spec CA"
	ok "init --key-type $spec makes a $spec CA"
}
check_key_type rsa:2048 'Private-Key: (2048 bit'
check_key_type ed25519 'ED25519 Private-Key'
check_key_type ec:P-384 'NIST CURVE: P-384'

rc=0
"$ADM" init "$TMP/badkey" --key-type dsa:1024 >/dev/null 2>"$TMP/err" || rc=$?
[ "$rc" -ne 0 ] || fail "a bad --key-type is refused"
grep -q 'ec:P-256' "$TMP/err" && grep -q 'ed25519' "$TMP/err" ||
	fail "a bad --key-type names the accepted types: $(cat "$TMP/err")"
[ ! -e "$TMP/badkey" ] || fail "a bad --key-type leaves nothing behind"
ok "a bad --key-type exits non-zero naming the accepted types"

# ---- certificates -------------------------------------------------------------
"$ADM" -c "$CONF" cert list >"$TMP/list" || fail "cert list exits 0"
[ "$(wc -l <"$TMP/list")" -eq 2 ] || fail "cert list shows header + 1 line: $(cat "$TMP/list")"
head -1 "$TMP/list" | grep_all '^SERIAL  *STATUS  *NOT-AFTER  *SUBJECT$' || fail "cert list header"
read -r serial status notafter subject < <(sed -n 2p "$TMP/list")
[ "$status" = valid ] && [ "$subject" = CN=localhost ] || fail "cert list row: $(sed -n 2p "$TMP/list")"
[[ "$notafter" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || fail "NOT-AFTER is YYYY-MM-DD: $notafter"
ok "cert list shows the TLS certificate"

"$ADM" -c "$CONF" cert show "$serial" >"$TMP/show" || fail "cert show exits 0"
grep -q -- '-----BEGIN CERTIFICATE-----' "$TMP/show" || fail "cert show prints the PEM"
grep -q "^serial: *$serial$" "$TMP/show" || fail "cert show prints the serial"
grep -q '^principal: *estadm:init$' "$TMP/show" || fail "cert show prints the principal"
# estadm writes serials without leading zeros; openssl pads them to whole bytes.
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$TMP/show" | openssl x509 -noout -serial |
	grep -qiE "=0*$serial\$" || fail "the PEM of cert show is the certificate asked for"
ok "cert show prints the record and the PEM"

"$ADM" -c "$CONF" cert show "0x$(tr 'A-F' 'a-f' <<<"$serial")" >/dev/null ||
	fail "cert show takes a serial in another spelling"
ok "cert show normalises the serial"

"$ADM" -c "$CONF" cert revoke "$serial" --reason superseded >"$TMP/out" || fail "cert revoke exits 0"
grep -q "^revoked $serial (superseded)$" "$TMP/out" || fail "cert revoke says what it did: $(cat "$TMP/out")"
"$ADM" -c "$CONF" cert list | sed -n 2p | grep_all ' revoked ' || fail "cert list shows revoked"
[ "$("$ADM" -c "$CONF" cert list --valid | wc -l)" -eq 1 ] || fail "cert list --valid hides it"
ok "cert revoke --reason superseded, then cert list shows revoked"

expect_status 1 "revoking twice" "$ADM" -c "$CONF" cert revoke "$serial"
grep -q 'already revoked' "$TMP/err" || fail "revoke again says why: $(cat "$TMP/err")"
[ "$(wc -l <"$TMP/err")" -eq 1 ] && grep -q '^estadm: ' "$TMP/err" || fail "one estadm: line"
ok "cert revoke again exits 1"

expect_status 1 "revoking an unknown serial" "$ADM" -c "$CONF" cert revoke 1234
ok "cert revoke of an unknown serial exits 1"

# ---- users --------------------------------------------------------------------
PW='s3cret-Pa55word'
printf '%s\n' "$PW" | "$ADM" -c "$CONF" user add alice >"$TMP/out" || fail "user add exits 0"
grep -q '^added user alice$' "$TMP/out" || fail "user add says added: $(cat "$TMP/out")"
"$ADM" -c "$CONF" user list >"$TMP/out" || fail "user list exits 0"
grep -qx alice "$TMP/out" && grep -qx estuser "$TMP/out" || fail "user list shows alice and estuser"
ok "user add via stdin, then user list shows it"

n=$(grep -c -- "$PW" "$D/users" || true)
[ "$n" -eq 0 ] || fail "the users file holds the password in clear"
[ "$(stat -c %a "$D/users")" = 600 ] || fail "users stays mode 600"
ok "the users file holds no clear password"

printf 'other\n' | "$ADM" -c "$CONF" user add alice --password-stdin >"$TMP/out" ||
	fail "user add of an existing user"
grep -q '^changed password of alice$' "$TMP/out" || fail "user add says changed: $(cat "$TMP/out")"
ok "user add of an existing user changes its password"

"$ADM" -c "$CONF" user del alice >"$TMP/out" || fail "user del exits 0"
grep -q '^removed user alice$' "$TMP/out" || fail "user del says removed"
! "$ADM" -c "$CONF" user list | grep_all -x alice || fail "user del removed alice"
ok "user del removes the user"

expect_status 1 "deleting an unknown user" "$ADM" -c "$CONF" user del alice
ok "user del again exits 1"

# ---- configuration errors and usage --------------------------------------------
cp "$CONF" "$TMP/bad.conf"
printf '[server]\nno-such-key = 1\n' >>"$TMP/bad.conf"
line=$(grep -n 'no-such-key' "$TMP/bad.conf" | cut -d: -f1)
expect_status 1 "a bad configuration" "$ADM" -c "$TMP/bad.conf" cert list
grep -q "bad.conf:$line:" "$TMP/err" || fail "the error names FILE:LINE: $(cat "$TMP/err")"
ok "a configuration error exits 1 with FILE:LINE"

ESTD_CONF="$CONF" "$ADM" user list | grep_all -x estuser || fail "ESTD_CONF names the configuration"
ok "\$ESTD_CONF is the default configuration"

expect_status 2 "an unknown command" "$ADM" frobnicate
grep -q '^usage:' "$TMP/err" || fail "a usage error prints the usage"
expect_status 2 "a missing argument" "$ADM" -c "$CONF" cert show
expect_status 0 "estadm --help" "$ADM" --help
grep -q 'cert revoke' "$TMP/out" || fail "--help lists the commands"
expect_status 0 "estadm cert list --help" "$ADM" cert list --help
grep -q 'cert list' "$TMP/out" || fail "COMMAND --help prints its usage"
expect_status 0 "estadm --version" "$ADM" --version
ok "usage errors exit 2, --help and --version exit 0"

# estd refuses a CA key that group or others can read, and says how to fix it.
chmod 644 "$D/ca.key"
rc=0
"$ESTKIT_BIN/estd" -n -c "$CONF" > "$TMP/out" 2> "$TMP/err" || rc=$?
[ $rc = 1 ] || fail "estd -n with a 0644 CA key exited $rc"
grep -q 'ca.key' "$TMP/err" && grep -q 'chmod 600' "$TMP/err" || fail "the refusal does not say why: $(cat "$TMP/err")"
chmod 600 "$D/ca.key"
"$ESTKIT_BIN/estd" -n -c "$CONF" > /dev/null 2>&1 || fail "estd -n after chmod 600"
ok "estd refuses a CA key readable by others: $(cat "$TMP/err")"
