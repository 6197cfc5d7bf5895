#!/usr/bin/env bash
# `make install` (issue 14, point 1): cmake --install into a temporary
# DESTDIR puts the programs, both libraries, the headers, estkit.pc, the man
# pages, the sample configuration and the systemd unit in place; the shared
# library exports exactly the public est_* functions; a small program builds
# with `pkg-config --cflags --libs estkit` and runs; the installed programs run.
. "$(dirname "$0")/lib.sh"

cache="$ESTKIT_BIN/CMakeCache.txt"
[ -f "$ESTKIT_BIN/libestkit.so" ] || { echo "skipped: no shared library in this build"; exit 77; }
command -v cc >/dev/null || { echo "skipped: no C compiler"; exit 77; }
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$cache")
D="$T/root"
DESTDIR="$D" cmake --install "$ESTKIT_BIN" > "$T/install.log" 2>&1 || fail "install: $(tail -n 5 "$T/install.log")"
P="$D$prefix"
ok "cmake --install into DESTDIR (prefix $prefix)"

pc=$(find "$P" -name estkit.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no estkit.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in sbin/estd sbin/estadm bin/estclient include/estkit/server.h include/estkit/client.h \
    share/man/man8/estd.8 share/man/man8/estadm.8 share/man/man1/estclient.1 share/man/man5/estd.conf.5 \
    lib/systemd/system/estd.service lib/sysusers.d/estkit.conf share/doc/estkit/configuration.md; do
	[ -e "$P/$f" ] || fail "$f not installed"
done
sysconfdir=$(sed -n 's|^ExecStart=.* -c \(.*\)/estkit/estd.conf$|\1|p' "$P/lib/systemd/system/estd.service")
sample="$D$sysconfdir/estkit/estd.conf.example"
[ -f "$sample" ] || fail "no sample configuration at $sysconfdir/estkit"
# Without -c, estd and estadm read the configuration the unit starts estd with
# (once /etc/estkit/estd.conf whatever the prefix, so that an installed estadm
# did not find the service's configuration under /usr/local/etc).
for prog in estd estadm; do
	"$ESTKIT_BIN/$prog" --help | tr -s ' \n' ' ' | grep_all "$sysconfdir/estkit/estd.conf)" ||
		fail "$prog's default configuration is not $sysconfdir/estkit/estd.conf, which estd.service uses: $("$ESTKIT_BIN/$prog" --help | grep -A1 -- --config)"
done
for f in libestkit.a libestkit.so libestkit.so.0; do
	[ -e "$libdir/$f" ] || fail "$f not installed in $libdir"
done
grep -q "^ExecStart=$prefix/sbin/estd " "$P/lib/systemd/system/estd.service" || fail "the unit does not run the installed estd"
ok "programs, libraries, headers, estkit.pc, man pages, sample configuration and unit installed"

# Exactly the functions the public headers declare are exported.
nm -D --defined-only "$libdir/libestkit.so" | awk '$2 ~ /^[TDBRW]$/ {sub(/@.*/, "", $3); print $3}' | sort > "$T/exported"
grep -ohE '\best_[a-z0-9_]+[[:space:]]*\(' "$P"/include/estkit/*.h | sed 's/[[:space:](]//g' | sort -u > "$T/declared"
nm -g --defined-only "$libdir/libestkit.a" | awk 'NF == 3 {print $3}' | sort -u > "$T/static"
[ -s "$T/exported" ] || fail "the shared library exports nothing"
outside=$(comm -23 "$T/exported" "$T/declared")
[ -z "$outside" ] || fail "exported but not in the public headers: $outside"
missing=$(comm -12 "$T/declared" "$T/static" | comm -23 - "$T/exported")
[ -z "$missing" ] || fail "public but not exported: $missing"
for internal in http_input route_request worker_main conn_accept connlimit_take; do
	grep -qx "$internal" "$T/static" || fail "test is stale: $internal is not in libestkit.a"
	! grep -qx "$internal" "$T/exported" || fail "internal $internal is exported"
done
ok "libestkit.so exports the $(wc -l < "$T/exported") public est_* functions and nothing else"

# A program of our own against the installed library, found by pkg-config.
export PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
flags=$(pkg-config --cflags --libs estkit) || fail "pkg-config cannot read estkit.pc"
[ "$(pkg-config --modversion estkit)" = "$("$ESTD" --version | awk '{print $2}')" ] || fail "estkit.pc version differs from estd's"
san=()
if nm -D "$libdir/libestkit.so" | grep_all __asan_init; then san=(-fsanitize=address,undefined); fi
cat > "$T/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include "estkit/codec.h"
#include "estkit/err.h"

int
main(void)
{
	static const unsigned char msg[] = "estkit";
	unsigned char *back = NULL;
	char *b64 = NULL;
	size_t b64len, backlen;
	struct est_error e = { 0 };

	if (est_b64_encode(msg, sizeof(msg) - 1, false, &b64, &b64len, &e) != EST_OK ||
	    est_b64_decode(b64, b64len, &back, &backlen, &e) != EST_OK)
		return 1;
	printf("%s %.*s %s\n", b64, (int)backlen, back, est_strerror(EST_ERR_AUTH));
	free(b64);
	OPENSSL_free(back);
	return 0;
}
C
# shellcheck disable=SC2086
cc "${san[@]}" -o "$T/hello" "$T/hello.c" $flags 2> "$T/cc.err" || fail "cannot build against the installed library: $(cat "$T/cc.err")"
LD_LIBRARY_PATH="$libdir" ldd "$T/hello" | grep_all "$libdir/libestkit.so.0" || fail "hello is not linked to the installed libestkit.so"
out=$(LD_LIBRARY_PATH="$libdir" "$T/hello") || fail "hello failed"
case "$out" in "ZXN0a2l0 estkit "*) ;; *) fail "hello printed: $out" ;; esac
ok "a program built with pkg-config --cflags --libs estkit runs against libestkit.so"

# The attacker's side: an internal function is not there to call.
cat > "$T/internal.c" <<'C'
#include <stddef.h>
struct conn;
struct evbuffer;
void http_input(struct conn *c, struct evbuffer *in);
int main(void) { http_input(NULL, NULL); return 0; }
C
# shellcheck disable=SC2086
if cc "${san[@]}" -o "$T/internal" "$T/internal.c" $flags 2> "$T/cc.err"; then
	fail "a program calling internal http_input linked against libestkit.so"
fi
grep -q 'http_input' "$T/cc.err" || fail "unexpected link error: $(cat "$T/cc.err")"
ok "a program calling an internal function does not link"

# The installed programs run.
for prog in sbin/estd sbin/estadm bin/estclient; do
	v=$("$P/$prog" --version) || fail "$prog --version"
	case "$v" in "$(basename "$prog") "*"$(pkg-config --modversion estkit)") ;; *) fail "$prog --version: $v" ;; esac
done
"$P/sbin/estadm" init "$T/var" --http-port 0 --tls-port 0 --mtls-port 0 >/dev/null
ESTD="$P/sbin/estd"
TA="$T/var/ca.pem"
start_estd
"$P/bin/estclient" -g -s 127.0.0.1 -p "$TLS_PORT" --trustanchor "$TA" -o "$T" --pem-output 2> "$T/ec.err" ||
	fail "installed estclient -g: $(cat "$T/ec.err")"
"$P/bin/estclient" -e -s 127.0.0.1 -p "$TLS_PORT" --trustanchor "$TA" -u estuser -h estpwd \
	--common-name installed -o "$T" --pem-output 2> "$T/ec.err" || fail "installed estclient -e: $(cat "$T/ec.err")"
openssl x509 -in "$T/cert-0-0.pem" -noout -subject | grep_all 'CN *= *installed' || fail "wrong certificate"
"$P/sbin/estadm" -c "$T/var/estd.conf" cert list | grep_all installed || fail "installed estadm does not list it"
ok "installed estd, estclient and estadm: CA certificates, an enrolment, the record"

# The sample configuration is valid once its files exist.
sed -e "s|/var/lib/estkit|$T/var|g" -e 's|0\.0\.0\.0:[0-9]*|127.0.0.1:0|' \
	"$sample" > "$T/sample.conf"
"$ESTD" -n -c "$T/sample.conf" > "$T/check.out" 2>&1 || fail "sample configuration: $(cat "$T/check.out")"
ok "the sample configuration passes estd -n"
# It keeps the audit log the README promises, the one estadm init began.
"$P/sbin/estadm" -c "$T/sample.conf" audit verify > "$T/audit.out" 2>&1 ||
	fail "estadm audit verify on the sample configuration: $(cat "$T/audit.out")"
ok "the sample configuration's audit log verifies"
finish
