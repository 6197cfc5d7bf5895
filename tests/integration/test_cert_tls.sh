#!/usr/bin/env bash
# estd's own TLS certificate for the name it is deployed under (estadm cert
# tls): issued from the alias's CA for est.test.example and 127.0.0.1, put
# in place over tls.pem/tls.key, it is served after a SIGHUP, so a client
# that checks the host name connects to est.test.example and not to a name
# the certificate lacks; it is on record (cert list, revocable, in the CRL).
# After a CA rollover it is reissued under the new CA: a client trusting only
# the new root connects, and one still holding only the old root does too
# (NewWithOld in the file). estadm init --tls-name names the host from the
# start. The attacker's side of a command line: no names, a malformed
# address or name, an unknown alias, an unwritable --out are refused with
# one line, and leave no file and no record behind.
. "$(dirname "$0")/lib.sh"

init_demo
cd "$T"
ADM=("$ESTADM" -c var/estd.conf)
start_estd
hup() {
	local before
	before=$(grep -c 'reloaded ' estd.log || true)
	kill -HUP "$ESTD_PID"
	for _ in $(seq 200); do
		[ "$(grep -c 'reloaded ' estd.log || true)" -gt "$before" ] && return 0
		sleep 0.1
	done
	fail "no reload after SIGHUP: $(tail -n 5 estd.log)"
}
# as NAME CAFILE: curl /cacerts at https://NAME:TLS_PORT (NAME resolved to
# 127.0.0.1), checking the host name; prints curl's exit status.
as() {
	local rc=0
	curl -s -o /dev/null --cacert "$2" --resolve "$1:$TLS_PORT:127.0.0.1" \
	    "https://$1:$TLS_PORT/.well-known/est/cacerts" || rc=$?
	echo $rc
}
count() { "${ADM[@]}" cert list | wc -l; }
# refused WANT-RC WHAT ARGS...: cert tls ARGS exits WANT-RC, its first line
# of standard error says WHAT, and nothing was written or recorded.
refused() {
	local want=$1 what=$2 rc=0 before
	shift 2
	before=$(count)
	ls -a var > files.before
	"${ADM[@]}" cert tls "$@" > out 2> err || rc=$?
	[ "$rc" = "$want" ] || fail "cert tls $*: exit $rc, not $want: $(cat err)"
	head -n 1 err | grep_all -F "estadm: $what" || fail "cert tls $*: $(head -n 1 err)"
	[ "$want" = 2 ] || [ "$(wc -l < err)" = 1 ] || fail "cert tls $*: more than one line: $(cat err)"
	[ ! -s out ] || fail "cert tls $* printed $(cat out)"
	ls -a var | cmp -s files.before - || fail "cert tls $* left files: $(ls -a var | diff files.before - || true)"
	[ "$(count)" = "$before" ] || fail "cert tls $* recorded a certificate"
}

# ---- before: the certificate of init does not name est.test.example ----
[ "$(as est.test.example var/ca.pem)" != 0 ] || fail "init's certificate already names est.test.example"
ok "init's TLS certificate does not name est.test.example (curl refuses the name)"

# ---- refusals: one line, non-zero exit, nothing written ----
refused 2 'name the server with --dns or --ip' --out var/tls
refused 2 '--ip "300.1.2.3" is not an IPv4 or IPv6 address' --dns est.test.example --ip 300.1.2.3 --out var/tls
refused 2 '--dns "10.0.0.1" is an address' --dns 10.0.0.1 --out var/tls
refused 2 '--dns "bad_name.example" is not a host name' --dns bad_name.example --out var/tls
refused 2 '--dns: an empty name' --dns est.test.example, --out var/tls
refused 2 '--dns "*.example" is not a host name' --dns '*.example' --out var/tls
refused 2 '--out is required' --dns est.test.example
refused 1 'no alias nosuch in var/estd.conf' --dns est.test.example --alias nosuch --out var/tls
refused 1 'cannot write var/nodir/tls.key' --dns est.test.example --out var/nodir/tls
mkdir var/tls-dir.pem
refused 1 'var/tls-dir.pem is not a regular file' --dns est.test.example --out var/tls-dir
rmdir var/tls-dir.pem
ok "refused: no name, a malformed address or name, an empty name, no --out, an unknown alias, an unwritable --out (nothing written or recorded)"

# ---- issue it over the listeners' files, reload, connect by name ----
cp var/tls.key tls.key.before
if [ "$(id -u)" = 0 ]; then chown nobody: var/tls.key var/tls.pem; fi
"${ADM[@]}" cert tls --dns est.test.example --ip 127.0.0.1 --out var/tls > issued.out \
    || fail "estadm cert tls"
grep_all 'issued TLS server certificate .* for CN=est.test.example (alias est, CA ManagementCA)' issued.out \
    || fail "cert tls said: $(cat issued.out)"
! cmp -s var/tls.key tls.key.before || fail "the key was not replaced"
[ "$(stat -c %a var/tls.key)" = 600 ] || fail "tls.key is mode $(stat -c %a var/tls.key)"
if [ "$(id -u)" = 0 ]; then
	[ "$(stat -c %U var/tls.key)" = nobody ] && [ "$(stat -c %U var/tls.pem)" = nobody ] \
	    || fail "the files did not keep their owner: $(stat -c %U var/tls.key var/tls.pem)"
fi
ls var | grep_all -E '^tls\.(key|pem)\.' && fail "temporary files left: $(ls var)"
[ "$(grep -c 'BEGIN CERT' var/tls.pem)" = 2 ] || fail "tls.pem is not the certificate followed by the CA"
awk '/BEGIN CERT/{n++} n==2' var/tls.pem | cmp -s - var/ca.pem || fail "the second certificate is not the CA"
openssl verify -CAfile var/ca.pem var/tls.pem > /dev/null || fail "openssl verify tls.pem"
openssl x509 -in var/tls.pem -noout -ext subjectAltName,extendedKeyUsage > ext.txt
grep_all 'DNS:est.test.example, IP Address:127.0.0.1' ext.txt && grep_all 'TLS Web Server Authentication' ext.txt \
    && ! grep_all 'Client Authentication' ext.txt || fail "names or EKU: $(cat ext.txt)"
ok "cert tls: EKU serverAuth, the names given, tls.pem = certificate + CA, key 0600, owner kept"

[ "$(as est.test.example var/ca.pem)" != 0 ] || fail "the new certificate is served before a reload"
hup
[ "$(as est.test.example var/ca.pem)" = 0 ] || fail "curl to est.test.example after the reload"
[ "$(as other.test.example var/ca.pem)" != 0 ] || fail "curl to a name the certificate lacks succeeded"
rc=0; curl -s -o /dev/null --cacert var/ca.pem "https://127.0.0.1:$TLS_PORT/.well-known/est/cacerts" || rc=$?
[ $rc = 0 ] || fail "the TLS listener by address (--ip 127.0.0.1): curl $rc"
SERIAL=$(openssl x509 -in var/tls.pem -noout -serial | cut -d= -f2)
# s_client fails the handshake without a client certificate, after it got the server's.
served=$({ openssl s_client -connect "127.0.0.1:$MTLS_PORT" < /dev/null 2> /dev/null || true; } |
    openssl x509 -noout -serial 2> /dev/null || true)
[ "$served" = "serial=$SERIAL" ] || fail "the mutual-TLS listener serves $served, not $SERIAL"
ok "after SIGHUP, curl --resolve est.test.example and 127.0.0.1 connect, other.test.example is refused; both TLS listeners serve it"

"${ADM[@]}" cert list | grep_all -E "^$SERIAL +valid .*CN=est.test.example$" || fail "cert list: $("${ADM[@]}" cert list)"
"${ADM[@]}" cert show "$SERIAL" | grep_all -x 'principal:    estadm' || fail "cert show: no principal estadm"
# A second one, revoked: it is on record like any other, so its CRL lists it.
"${ADM[@]}" cert tls --dns spare.test.example --out spare > spare.out || fail "cert tls spare"
SPARE=$(openssl x509 -in spare.pem -noout -serial | cut -d= -f2)
"${ADM[@]}" cert revoke "$SPARE" --reason superseded > /dev/null || fail "cert revoke $SPARE"
"${ADM[@]}" crl show | grep_all "Serial Number: $SPARE" || fail "the CRL does not list $SPARE"
ok "the TLS certificate is on record (cert list, principal estadm); a revoked one is in the CRL"

# ---- after a CA rollover: reissued under the new CA ----
cp var/ca.pem old-root.pem
"${ADM[@]}" ca rollover ManagementCA > roll.out || fail "ca rollover: $(cat roll.out)"
stop_estd
start_estd
"${ADM[@]}" cert tls --dns est.test.example --ip 127.0.0.1 --out var/tls > issued.out \
    || fail "estadm cert tls after the rollover"
grep_all '(alias est, CA ManagementCA-2)' issued.out || fail "not from the new CA: $(cat issued.out)"
NEW_DN=$(openssl x509 -in var/ManagementCA-2.pem -noout -subject -nameopt compat | sed 's/^subject=//')
[ "$(openssl x509 -in var/tls.pem -noout -issuer -nameopt compat | sed 's/^issuer=//')" = "$NEW_DN" ] \
    || fail "tls.pem is not issued by the new CA"
awk '/BEGIN CERT/{n++} n==2' var/ManagementCA-2-rollover.pem > nwo.pem
awk '/BEGIN CERT/{n++} n==2' var/tls.pem | cmp -s - nwo.pem || fail "tls.pem does not carry NewWithOld"
openssl verify -CAfile var/ManagementCA-2.pem var/tls.pem > /dev/null || fail "openssl verify under the new root"
hup
[ "$(as est.test.example var/ManagementCA-2.pem)" = 0 ] || fail "a client trusting only the new root"
[ "$(as est.test.example old-root.pem)" = 0 ] || fail "a client trusting only the old root (through NewWithOld)"
[ "$(as other.test.example var/ManagementCA-2.pem)" != 0 ] || fail "a name the certificate lacks, new root"
ok "after a rollover: reissued under the new CA; clients with the new root, or the old root only, connect"
# cert ra shares the path: its certificate comes from the new CA too, as estd's would.
"${ADM[@]}" cert ra --dn CN=ra2 --out ra2 > ra.out || fail "cert ra after the rollover: $(cat ra.out)"
[ "$(openssl x509 -in ra2.pem -noout -issuer -nameopt compat | sed 's/^issuer=//')" = "$NEW_DN" ] \
    || fail "cert ra after the rollover: not issued by the new CA"
ok "cert ra after the rollover issues from the new CA"

# ---- init --tls-name: the first certificate names the host ----
"$ESTADM" init named --tls-name est.test.example,192.0.2.7 --tls-name lb.test.example > init.out \
    || fail "init --tls-name"
grep_all 'created named/tls.pem (TLS certificate for est.test.example' init.out || fail "init said $(cat init.out)"
openssl x509 -in named/tls.pem -noout -subject -ext subjectAltName > ext.txt
grep_all 'CN = est.test.example' ext.txt &&
    grep_all 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:est.test.example, IP Address:192.0.2.7, DNS:lb.test.example' ext.txt \
    || fail "init --tls-name: $(cat ext.txt)"
rc=0; "$ESTADM" init bad --tls-name 'no such' > /dev/null 2> err || rc=$?
[ $rc = 2 ] && [ ! -e bad ] && head -n 1 err | grep_all -F 'estadm: --tls-name "no such" is not a host name' \
    || fail "init --tls-name 'no such': exit $rc, $(head -n 1 err)"
ok "init --tls-name names the host in the first TLS certificate; a malformed name is refused before anything is made"
finish
