#!/usr/bin/env bash
# estclient renew (issue 17): a certificate of a 2-minute profile renewed
# over /simplereenroll when due, files replaced atomically with the old pair
# kept, modes kept, the post-hook run once per renewal; a revoked certificate
# stops the one-shot agent with exit status 5 and untouched files, while the
# daemon looks at a refused certificate again until it expires (a revoked
# one; one refused by renew-window, which opens later); network errors
# and 5xx retried with back-off; several certificates from one file; the
# --daemon renews again and again without help while a reader never sees a
# partial file. openssl verify checks each new certificate. The renewal
# itself is estclient -r's: the certificate's names, authenticated by the
# certificate (EST-C-55, EST-C-56), 202 waited out (EST-C-70); no password
# goes out (EST-C-34); each look fetches /cacerts, due or not (EST-C-14).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/estclient_lib.sh"

init_demo
cat >> "$T/var/estd.conf" <<'CONF'

[profile short]
validity-seconds = 120
extended-key-usage = clientAuth, serverAuth

[alias short]
mode = ra
ca = ManagementCA
profile = short
authentication = http, certificate
renew-same-key = yes

[profile minute]
validity-seconds = 60

[alias minute]
mode = ra
ca = ManagementCA
profile = minute
authentication = http, certificate

[profile days]
validity-days = 3

[alias windowed]
mode = ra
ca = ManagementCA
profile = days
authentication = http, certificate
renew-window = 1
CONF
start_estd
cd "$T"
export PW=estpwd

# enrol NAME: NAME/cert.pem and NAME/key.pem of the 2-minute alias, NAME/ta.pem.
enrol() {
	ec -e -s 127.0.0.1 -p "$TLS_PORT" --path-seg short --trustanchor "$TA" -u estuser \
	    --password-env PW --common-name "$1" -o "$1" --pem-output
	expect_rc 0 "enrolled $1 on the 2-minute alias"
	mv "$1/cert-0-0.pem" "$1/cert.pem"
	mv "$1/key-x-x.pem" "$1/key.pem"
	cp "$TA" "$1/ta.pem"
}
serial() { openssl x509 -in "$1" -noout -serial; }
R=(renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg short)

# The daemon keeps looking at a refused certificate while it is valid (a
# refusal may be lifted), ever more often, and drops it only when it expires
# before the next look; with none left it exits 5. A revoked certificate of
# a 1-minute alias: its daemon runs in the background while the rest of the
# test does, and is waited for at the end.
ec -e -s 127.0.0.1 -p "$TLS_PORT" --path-seg minute --trustanchor "$TA" -u estuser \
    --password-env PW --common-name rv -o rv --pem-output
expect_rc 0 "enrolled rv on the 1-minute alias"
"$ESTADM" -c var/estd.conf cert revoke "$(serial rv/cert-0-0.pem | cut -d= -f2)" >/dev/null
revoked_end=$(date -d "$(openssl x509 -in rv/cert-0-0.pem -noout -enddate | cut -d= -f2)" +%s)
revoked_before=$(sha256sum rv/cert-0-0.pem rv/key-x-x.pem)
timeout 200 "$ESTCLIENT" renew --daemon -s 127.0.0.1 -p "$MTLS_PORT" --path-seg minute \
    -c rv/cert-0-0.pem -k rv/key-x-x.pem --trustanchor "$TA" --renew-before 10m --retry-delay 1 \
    2> daemon-revoked.err &
REVOKED_DAEMON=$!

enrol dev
chmod 0640 dev/cert.pem
before=$(sha256sum dev/cert.pem dev/key.pem)
# 90% of the 7 minutes (notBefore is 5 minutes back) is 78 s after issue.
ec "${R[@]}" -c dev/cert.pem -k dev/key.pem --trustanchor dev/ta.pem --renew-share 90% \
    --post-hook 'echo x >> hook.log'
expect_rc 0 "renew before it is due"
[ "$(sha256sum dev/cert.pem dev/key.pem)" = "$before" ] || fail "renew changed files before they were due"
[ ! -e hook.log ] || fail "the post-hook ran without a renewal"
ok "not due: nothing written, no hook"

old_serial=$(serial dev/cert.pem)
old_pub=$(openssl pkey -in dev/key.pem -pubout)
ec "${R[@]}" -c dev/cert.pem -k dev/key.pem --trustanchor dev/ta.pem --renew-before 10m \
    --chain dev/chain.pem --post-hook 'echo "$ESTCLIENT_RENEW_CERT" >> hook.log'
expect_rc 0 "renew when it expires within --renew-before"
[ "$(serial dev/cert.pem)" != "$old_serial" ] || fail "the certificate was not replaced"
[ "$(openssl pkey -in dev/key.pem -pubout)" != "$old_pub" ] || fail "renew kept the key (a new one is the default)"
[ "$(openssl x509 -in dev/cert.pem -pubkey -noout)" = "$(openssl pkey -in dev/key.pem -pubout)" ] \
    || fail "the new certificate is not for the new key"
[ "$(serial dev/cert.pem.previous)" = "$old_serial" ] || fail "the previous certificate was not kept"
[ "$(openssl pkey -in dev/key.pem.previous -pubout)" = "$old_pub" ] || fail "the previous key was not kept"
[ "$(stat -c %a dev/cert.pem)" = 640 ] && [ "$(stat -c %a dev/key.pem)" = 600 ] \
    || fail "modes not kept: $(stat -c '%n %a' dev/cert.pem dev/key.pem)"
[ "$(stat -c %U dev/cert.pem)" = "$(id -un)" ] || fail "owner changed"
[ "$(wc -l < hook.log)" = 1 ] && grep_all -x dev/cert.pem hook.log || fail "post-hook: $(cat hook.log)"
openssl verify -CAfile dev/ta.pem -untrusted dev/chain.pem dev/cert.pem >/dev/null \
    || fail "openssl verify refuses the renewed certificate"
openssl x509 -in dev/cert.pem -noout -subject | grep_all 'CN *= *dev' || fail "subject changed"
ok "renewed: new key, old pair kept as .previous, modes and owner kept, hook once, openssl verify (EST-C-55)"

same_pub=$(openssl pkey -in dev/key.pem -pubout)
ec "${R[@]}" -c dev/cert.pem -k dev/key.pem --trustanchor dev/ta.pem --force --same-key
expect_rc 0 "renew --force --same-key"
[ "$(openssl x509 -in dev/cert.pem -pubkey -noout)" = "$same_pub" ] || fail "--same-key changed the key"
[ "$(openssl pkey -in dev/key.pem -pubout)" = "$same_pub" ] || fail "--same-key replaced the key file"
ok "--same-key renews with the same key"

# The old certificate cannot be kept (cert.pem.previous is a directory): the
# renewal fails before any file is replaced, not with a new key beside the
# old certificate, which no later run could renew.
rm -f dev/cert.pem.previous && mkdir -p dev/cert.pem.previous/x
before=$(sha256sum dev/cert.pem dev/key.pem)
ec "${R[@]}" -c dev/cert.pem -k dev/key.pem --trustanchor dev/ta.pem --force
expect_rc 1 "renew fails when the previous certificate cannot be kept"
err_says "cert.pem.previous"
[ "$(sha256sum dev/cert.pem dev/key.pem)" = "$before" ] || fail "a failed renewal left a new key beside the old certificate"
[ -z "$(find dev -name '.*.??????')" ] || fail "temporary files left behind: $(find dev -name '.*.??????')"
rm -r dev/cert.pem.previous && cp dev/cert.pem dev/cert.pem.previous
ok "a renewal that cannot keep the old files replaces none of them"

# A revoked certificate: exit 5, every file as it was, no hook.
"$ESTADM" -c var/estd.conf cert revoke "$(serial dev/cert.pem | cut -d= -f2)" >/dev/null
before=$(sha256sum dev/cert.pem dev/key.pem dev/ta.pem dev/cert.pem.previous dev/key.pem.previous)
rm -f hook.log
ec "${R[@]}" -c dev/cert.pem -k dev/key.pem --trustanchor dev/ta.pem --force --post-hook 'echo x >> hook.log'
expect_rc 5 "renew of a revoked certificate stops with status 5"
err_says "left as they were"
[ "$(sha256sum dev/cert.pem dev/key.pem dev/ta.pem dev/cert.pem.previous dev/key.pem.previous)" = "$before" ] \
    || fail "a refused renewal touched the files"
[ ! -e hook.log ] || fail "the post-hook ran after a refusal"
[ -z "$(find dev -name '.*.??????')" ] || fail "temporary files left behind: $(find dev -name '.*.??????')"
ok "revoked: no file touched, no hook, no temporary file"


# A wrong label (an alias that does not exist) is refused: not retried.
enrol dev2
ec renew -s 127.0.0.1 -p "$MTLS_PORT" --path-seg nosuch -c dev2/cert.pem -k dev2/key.pem \
    --trustanchor dev2/ta.pem --force --retry-delay 1
[ "$RC" = 6 ] || fail "unknown label: exit $RC: $(cat ec.err)"
! grep -q 'trying again' ec.err || fail "a 404 was retried"
ok "an unknown label is refused at once (exit 6)"

# Nothing listens: retried with back-off, then exit 3, files untouched.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
before=$(sha256sum dev2/cert.pem dev2/key.pem)
ec renew -s 127.0.0.1 -p "$port" -c dev2/cert.pem -k dev2/key.pem --trustanchor dev2/ta.pem \
    --force --retries 2 --retry-delay 1
expect_rc 3 "unreachable server after the retries"
[ "$(grep -c 'trying again' ec.err)" = 2 ] || fail "expected 2 retries: $(cat ec.err)"
[ "$(sha256sum dev2/cert.pem dev2/key.pem)" = "$before" ] || fail "files touched"
ok "network errors retried with back-off (--retries, --retry-delay)"

# 202 is waited out, 5xx answers are retried with back-off (a scripted
# server: 202 + Retry-After, 503, 500, 200).
mkdir stubdir && cd stubdir
make_stub_pki
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out dev.key 2>/dev/null
chmod 0600 dev.key
cert_for dev.key dev dev.pem
cert_for dev.key dev renewed.pem
certs_only ca.pem cacerts.b64
certs_only renewed.pem renewed.b64
printf '%s\n' '{
 "GET /.well-known/est/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST /.well-known/est/simplereenroll": [{"status": 202, "headers": {"Retry-After": "1"}},
   {"status": 503, "body": "busy\n"}, {"status": 500, "body": "oops\n"},
   {"status": 200, "headers": {"Content-Type": "application/pkcs7-mime; smime-type=certs-only"}, "body_file": "renewed.b64"}],
 "GET /.well-known/est/ask/cacerts": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime"}, "body_file": "cacerts.b64"}],
 "POST /.well-known/est/ask/simplereenroll": [{"status": 200, "headers": {"Content-Type": "application/pkcs7-mime; smime-type=certs-only"}, "body_file": "renewed.b64", "require_auth": true}]
}' > busy.json
start_stub busy.json srv.pem srv.key --client-ca ca.pem
# Each look fetches /cacerts, due or not, so the trust anchor is refreshed
# (and a rollover taken in) long before it expires (EST-C-14).
ec renew --server "https://127.0.0.1:$STUB_PORT" -c dev.pem -k dev.key --trustanchor ca.pem
expect_rc 0 "renew of a certificate not due"
[ "$(stub_count)" = 1 ] && [ "$(stub_field 1 method) $(stub_field 1 path)" = "GET /.well-known/est/cacerts" ] \
    || fail "a look at a certificate not due did not fetch /cacerts (alone): $(cat "$T/stub.log")"
ok "a look at a certificate not due still fetches /cacerts (EST-C-14)"
: > "$T/stub.log"
ec renew --server "https://127.0.0.1:$STUB_PORT" -c dev.pem -k dev.key --trustanchor ca.pem --same-key \
    --force --retries 3 --retry-delay 1
expect_rc 0 "renew through a 202, a 503 and a 500"
[ "$(serial dev.pem)" = "$(serial renewed.pem)" ] || fail "the certificate of the third answer was not written"
[ "$(grep -c simplereenroll "$T/stub.log")" = 4 ] || fail "expected 4 POSTs: $(grep -c simplereenroll "$T/stub.log")"
[ "$(grep -c 'trying again' "$T/ec.err")" = 2 ] || fail "expected 2 retries: $(cat "$T/ec.err")"
python3 - "$T/stub.log" <<'PY' || fail "retries did not back off"
import json, sys
t = [json.loads(l)["time"] for l in open(sys.argv[1]) if "simplereenroll" in l]
# Retry-After 1 s; then retry-delay 1 s, doubled, jittered by +-50%: at least 0.5 s, then 1 s.
assert t[1] - t[0] >= 0.95 and t[2] - t[1] >= 0.45 and t[3] - t[2] >= 0.95, t
PY
# The password of the first enrolment is not used again: renewal is
# authenticated by the certificate alone (EST-C-34); renew takes no password.
python3 - "$T/stub.log" <<'PY' || fail "the renewal was not authenticated by the certificate alone"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
posts = [r for r in reqs if r["method"] == "POST"]
assert posts and all(p["peer"] == "CN=dev" for p in posts), [p["peer"] for p in posts]
assert all("Authorization" not in r["headers"] for r in reqs), "an Authorization header"
PY
ec renew --server "https://127.0.0.1:$STUB_PORT/.well-known/est/ask" -c dev.pem -k dev.key \
    --trustanchor ca.pem --same-key --force --retries 0
expect_rc 0 "a renewal server that asks for HTTP credentials (as libest's server asks even of a certificate)"
python3 - "$T/stub.log" <<'PY' || fail "a password went to the renewal server"
import json, sys
auth = [r["headers"]["Authorization"] for r in map(json.loads, open(sys.argv[1]))
        if "Authorization" in r["headers"]]
assert auth == ["Basic Og=="], auth   # base64(":"), libest's empty header
PY
ec renew --server "https://127.0.0.1:$STUB_PORT" -c dev.pem -k dev.key --trustanchor ca.pem -u estuser
expect_rc 2 "renew takes no HTTP user name"
ok "renewal: the certificate authenticates, no password (at most libest's empty Basic header) (EST-C-34)"
stop_stub
cd "$T"
ok "202 waited out (EST-C-70), 5xx retried with exponential back-off and jitter, then the certificate written"

# Several certificates in one file, one-shot; dev3's certificate is a
# symbolic link (as certbot-style layouts have), which stays one.
enrol dev3
mv dev3/cert.pem dev3/cert-real.pem && ln -s cert-real.pem dev3/cert.pem
cat > renew.conf <<CONF
# every certificate
host = 127.0.0.1
port = $MTLS_PORT
path-seg = short
renew-before = 10m
post-hook = echo "\$ESTCLIENT_RENEW_NAME" >> conf-hook.log

[cert two]
cert = dev2/cert.pem
key = dev2/key.pem
trustanchor = dev2/ta.pem

[cert three]
cert = dev3/cert.pem
key = dev3/key.pem
trustanchor = dev3/ta.pem
same-key = yes
CONF
# Its post-hooks run as this user: a file another user can change is refused.
chmod 0664 renew.conf
ec renew --config renew.conf
expect_rc 2 "a renew.conf writable by the group is refused"
err_says "chmod go-w renew.conf"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 0644 renew.conf && chown nobody renew.conf
	ec renew --config renew.conf
	expect_rc 2 "a renew.conf owned by another user is refused"
	err_says "owned by user"
	chown 0 renew.conf
fi
[ ! -e conf-hook.log ] || fail "a refused renew.conf ran its post-hook"
chmod 0644 renew.conf
ok "renew.conf: another user cannot set the post-hook"
s2=$(serial dev2/cert.pem) s3=$(serial dev3/cert.pem)
ec renew --config renew.conf
expect_rc 0 "renew --config with two certificates"
[ "$(serial dev2/cert.pem)" != "$s2" ] && [ "$(serial dev3/cert.pem)" != "$s3" ] || fail "not both renewed"
[ "$(sort conf-hook.log | tr '\n' ' ')" = "three two " ] || fail "hooks: $(cat conf-hook.log)"
[ -L dev3/cert.pem ] && [ "$(serial dev3/cert-real.pem)" = "$(serial dev3/cert.pem)" ] \
    || fail "the symbolic link dev3/cert.pem was replaced by a file"
openssl verify -CAfile dev3/ta.pem dev2/cert.pem dev3/cert.pem >/dev/null || fail "openssl verify"
printf 'cert = x\n[cert a]\nrenew-share = 2\n' > bad.conf
ec renew --config bad.conf
expect_rc 2 "a bad configuration file"
err_says "bad.conf:3: renew-share"
ok "several certificates from one file, each hook once"

# The daemon: renews when 73.5% of the 7-minute lifetime (2 minutes and the
# 5 minutes notBefore is set back) has passed, about 9 s after issue, again
# and again, while a reader loops over the certificate file.
enrol dev4
(while [ ! -e stop-reader ]; do
	c=$(cat dev4/cert.pem)
	case "$c" in "-----BEGIN CERTIFICATE-----"*"-----END CERTIFICATE-----") ;; *) echo partial >> partial.log;; esac
	sleep 0.01
done) &
reader=$!
"$ESTCLIENT" renew --daemon "${R[@]:1}" -c dev4/cert.pem -k dev4/key.pem --trustanchor dev4/ta.pem \
    --renew-share 73.5% --retry-delay 2 --post-hook 'openssl verify -CAfile dev4/ta.pem dev4/cert.pem >> daemon-hook.log' \
    2> daemon.err &
daemon=$!
for _ in $(seq 60); do
	[ "$(grep -c OK daemon-hook.log 2>/dev/null)" -ge 2 ] && break
	sleep 1
done
kill -TERM "$daemon"
rc=0; wait "$daemon" || rc=$?
touch stop-reader; wait "$reader"
[ "$rc" = 0 ] || fail "the daemon exited $rc on SIGTERM: $(cat daemon.err)"
[ "$(grep -c 'renewed dev4/cert.pem' daemon.err)" -ge 2 ] || fail "the daemon did not renew twice: $(cat daemon.err)"
[ "$(grep -c ': OK' daemon-hook.log)" = "$(grep -c 'renewed dev4/cert.pem' daemon.err)" ] \
    || fail "hook runs differ from renewals: $(cat daemon-hook.log)"
[ ! -e partial.log ] || fail "the reader saw a partial certificate file $(wc -l < partial.log) times"
openssl x509 -in dev4/cert.pem -noout -checkend 60 >/dev/null || fail "the renewed certificate expires within a minute"
ok "daemon: renewed twice without help, hook once per renewal, no partial file seen, SIGTERM exits 0"

# SIGHUP makes the daemon look at once (here: not due yet).
"$ESTCLIENT" renew --daemon -v "${R[@]:1}" -c dev4/cert.pem -k dev4/key.pem --trustanchor dev4/ta.pem \
    --renew-share 99% 2> hup.err &
daemon=$!
for _ in $(seq 50); do grep -q 'not due' hup.err && break; sleep 0.1; done
kill -HUP "$daemon"
for _ in $(seq 50); do [ "$(grep -c 'not due' hup.err)" -ge 2 ] && break; sleep 0.1; done
kill -TERM "$daemon"; wait "$daemon" || true
[ "$(grep -c 'not due' hup.err)" -ge 2 ] || fail "SIGHUP did not make the daemon look: $(cat hup.err)"
ok "SIGHUP: the daemon looks at once"

# renew-window: estd refuses a renewal until a day before expiry (403). A
# client due earlier (here: at once) must not give up: it looks again later
# (at most 6 hours apart) and renews once the window opens.
ec -e -s 127.0.0.1 -p "$TLS_PORT" --path-seg windowed --trustanchor "$TA" -u estuser \
    --password-env PW --common-name win -o win --pem-output
expect_rc 0 "enrolled win on the alias with renew-window = 1"
"$ESTCLIENT" renew --daemon -s 127.0.0.1 -p "$MTLS_PORT" --path-seg windowed -c win/cert-0-0.pem \
    -k win/key-x-x.pem --trustanchor "$TA" --renew-before 4d 2> win.err &
daemon=$!
for _ in $(seq 100); do grep -q 'looking again' win.err && break; sleep 0.1; done
kill -TERM "$daemon"
rc=0; wait "$daemon" || rc=$?
grep_all 'too early to renew' win.err || fail "no renew-window refusal: $(cat win.err)"
grep_all 'refused; looking again in 21600 s' win.err || fail "the daemon did not keep the certificate: $(cat win.err)"
[ "$rc" = 0 ] || fail "the daemon exited $rc: $(cat win.err)"
ok "a renewal refused as too early (renew-window) is looked at again in 6 hours, not dropped"

# The revoked certificate's daemon (started above): it kept looking, ever
# more often, and stopped only in the last --retry-delay of its validity.
rc=0; wait "$REVOKED_DAEMON" || rc=$?
ended=$(date +%s)
[ "$rc" = 5 ] || fail "the daemon with only a revoked certificate exited $rc: $(cat daemon-revoked.err)"
grep_all 'expires before it could be tried again' daemon-revoked.err \
    || fail "the daemon did not say why it stopped: $(cat daemon-revoked.err)"
[ "$(grep -c 'refused; looking again' daemon-revoked.err)" -ge 3 ] \
    || fail "the daemon did not keep looking: $(cat daemon-revoked.err)"
[ "$ended" -ge $((revoked_end - 5)) ] || fail "the daemon gave up $((revoked_end - ended)) s before expiry"
[ "$(sha256sum rv/cert-0-0.pem rv/key-x-x.pem)" = "$revoked_before" ] \
    || fail "the daemon touched the files of a refused certificate"
[ -z "$(find rv -name '*.previous' -o -name '.*.??????')" ] || fail "the daemon wrote beside rv's files"
ok "the daemon keeps looking at a refused certificate until it expires, then drops it and exits 5"

finish
