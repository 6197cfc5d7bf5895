#!/usr/bin/env bash
# docs/troubleshooting.md stays true (issue 14, point 7): each mistake it
# describes is made here -- no trust anchor, the wrong one, the wrong host
# name, a clock behind (a server certificate not yet valid) and an expired
# client certificate, renewal on the wrong port, a first enrolment on the
# mutual-TLS port, a certificate without clientAuth, a wrong password --
# and every message the file quotes (estclient's, curl's and estd's log
# lines; "..." stands for what varies) must be one that was printed.
. "$(dirname "$0")/lib.sh"

: "${ESTKIT_SRC:?ESTKIT_SRC must point at the source tree}"
DOC="$ESTKIT_SRC/docs/troubleshooting.md"
ESTCLIENT="$ESTKIT_BIN/estclient"
[ -x "$ESTCLIENT" ] || { echo "skipped: estclient is not built"; exit 77; }
init_demo
start_estd
cd "$T"
unset EST_OPENSSL_CACERT
OUT="$T/said.txt"
mkdir -p o
# said CMD...: run a command that is to fail, keeping what it prints.
said() { "$@" >> "$OUT" 2>&1 && fail "expected a failure: $*"; return 0; }

# An openssl CA over the demo CA's key, for certificates estd would never issue.
mkdir -p ca && touch ca/index.txt && echo 01 > ca/serial
cat > ca.cnf <<'EOF'
[ca]
default_ca = d
[d]
database = ca/index.txt
new_certs_dir = ca
serial = ca/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[client]
extendedKeyUsage = clientAuth
[server]
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
EOF
sign() { # NAME EXTENSIONS openssl-ca-validity-args...
	local name=$1 ext=$2; shift 2
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
	    -subj "/CN=$name" -out "$name.csr" 2>/dev/null
	openssl ca -batch -config ca.cnf -extensions "$ext" -cert var/ca.pem -keyfile var/ca.key \
	    "$@" -in "$name.csr" -out "$name.pem" 2>/dev/null || fail "openssl ca $name"
}

# The trust anchor: none, another CA, a host name the certificate lacks.
said "$ESTCLIENT" -g -s 127.0.0.1 -p "$TLS_PORT" -o o
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -subj /CN=other -days 2 -out other.pem 2>/dev/null
said "$ESTCLIENT" -g -s 127.0.0.1 -p "$TLS_PORT" -o o --trustanchor other.pem
said curl -sS -o /dev/null "https://127.0.0.1:$TLS_PORT/.well-known/est/cacerts"
said "$ESTCLIENT" -g -s localhost.localdomain -p "$TLS_PORT" -o o --trustanchor "$TA" \
    --resolve "localhost.localdomain:$TLS_PORT:127.0.0.1"

# Clock skew: a server certificate valid only from 2099, an expired client certificate.
sign future server -startdate 20990101000000Z -enddate 20991231000000Z
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
openssl s_server -accept "127.0.0.1:$port" -cert future.pem -key future.key -naccept 2 -quiet \
    > /dev/null 2>&1 &
server=$!
for _ in $(seq 50); do (exec 3<> "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
said "$ESTCLIENT" -g -s 127.0.0.1 -p "$port" -o o --trustanchor "$TA"
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
sign old client -startdate 20200101000000Z -enddate 20200102000000Z
said "$ESTCLIENT" -r -s 127.0.0.1 -p "$MTLS_PORT" -o o --trustanchor "$TA" -c old.pem -k old.key

# Renewal on the wrong port; a first enrolment on the mutual-TLS port.
printf 'estpwd\n' > pw
"$ESTCLIENT" -e -s 127.0.0.1 -p "$TLS_PORT" -o o --trustanchor "$TA" -u estuser \
    --password-file pw --pem-output || fail "enrolment"
# The skew the clock section promises: notBefore 5 minutes before issuance.
back=$(( $(date +%s) - $(date -d "$(openssl x509 -in o/cert-0-0.pem -noout -startdate | cut -d= -f2)" +%s) ))
[ "$back" -ge 295 ] && [ "$back" -le 330 ] ||
	fail "an issued certificate's notBefore is $back s back, not the 5 minutes troubleshooting.md says"
said "$ESTCLIENT" -r -s 127.0.0.1 -p "$TLS_PORT" -o o --trustanchor "$TA" -c o/cert-0-0.pem \
    -k o/key-x-x.pem
said "$ESTCLIENT" -e -s 127.0.0.1 -p "$MTLS_PORT" -o o --trustanchor "$TA" -u estuser \
    --password-file pw

# A certificate for a web server (serverAuth only) to renew with.
sign web server -days 30
said "$ESTCLIENT" -r -s 127.0.0.1 -p "$MTLS_PORT" -o o --trustanchor "$TA" -c web.pem -k web.key

# A wrong password over Digest.
printf 'wrong\n' > bad
said "$ESTCLIENT" -e -s 127.0.0.1 -p "$TLS_PORT" -o o --trustanchor "$TA" -u estuser --password-file bad
sleep 0.2

# Every line the file quotes was printed ("estd: " lines are log lines without time and level).
python3 - "$DOC" "$OUT" "$T/estd.log" > match.txt <<'PY' || fail "$(cat match.txt)"
import re, sys
doc, said, log = (open(p, encoding="utf-8").read() for p in sys.argv[1:4])
printed = said.splitlines()
logged = [re.sub(r"^\S+ \S+ ", "", l) for l in log.splitlines()]
quoted, fence, missing = 0, None, []
for line in doc.splitlines():
    if line.startswith("```"):
        fence = line if fence is None else None
        continue
    # Quoted output is in plain ``` blocks; ```sh blocks are commands.
    if fence != "```" or not re.match(r"^(estclient|estd|curl): ", line):
        continue
    quoted += 1
    pattern = ".*".join(re.escape(part) for part in line.split("..."))
    if line.startswith("estd: "):
        pattern, pool = pattern[len(re.escape("estd: ")):], logged
    else:
        pool = printed
    if not any(re.fullmatch(pattern, l) for l in pool):
        missing.append(line)
# A heading quotes the message a reader searches for ("## \"...\": cause"):
# each quoted phrase must be in something printed or logged (a heading once
# named an "alert unsupported certificate" that nothing here prints).
for line in doc.splitlines():
    if line.startswith("## "):
        for phrase in re.findall(r'"([^"]+)"', line.split(":")[0] if '":' in line else line):
            if not any(phrase in l for l in printed + logged):
                missing.append("heading: " + phrase)
if quoted < 12:
    print(f"only {quoted} quoted lines found in {sys.argv[1]} (test is stale)")
    sys.exit(1)
if missing:
    print("quoted in docs/troubleshooting.md but not printed:\n" + "\n".join(missing))
    sys.exit(1)
print(quoted)
PY
ok "docs/troubleshooting.md: all $(cat match.txt) quoted messages are what estclient, curl and estd print"
finish
