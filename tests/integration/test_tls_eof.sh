#!/usr/bin/env bash
# TLS clients that close the TCP connection without close_notify. After a
# complete request and its answer that is how many clients end, and no
# failure: no "TLS failed" line (nor before the handshake: a TCP health
# check). In the middle of a request body it is a client that left (or a
# truncation by someone on the path): HTTP's own framing (Content-Length)
# says the body is incomplete, and nothing is done with it -- here a
# complete CSR, with a Content-Length that promises more.
. "$(dirname "$0")/lib.sh"

init_demo
start_estd
cd "$T"
mkcsr dev
printf '%s\n' "$(tr -d '\n' < dev.b64)" > dev.line

# tls_client MODE: one request over TLS to the tls listener, then close the
# socket without close_notify (Python's SSLSocket.close sends none).
#   complete: GET /cacerts, read the whole answer, close; prints the status.
#   truncated: POST simpleenroll (Basic estuser) whose Content-Length is the
#     CSR's and 64 bytes more; send the CSR, wait, close; prints what came back.
#   whole: the same with the CSR's Content-Length.
tls_client() {
	python3 - "$TLS_PORT" "$TA" "$1" <<'PY'
import socket, ssl, sys, time
port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
if mode == "complete":
    s.sendall(b"GET /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(4096)
    print(head.split(b" ")[1].decode())
else:
    csr = open("dev.line", "rb").read()
    s.sendall(b"POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Basic ZXN0dXNlcjplc3Rwd2Q=\r\n"
              b"Content-Type: application/pkcs10\r\n"
              b"Content-Length: %d\r\n\r\n" % (len(csr) + (64 if mode == "truncated" else 0))
              + csr)
    # A truncated request is waited for a second; a whole one is answered at once,
    # but a loaded machine (the sanitizer build) may take longer.
    s.settimeout(1.0 if mode == "truncated" else 30.0)
    try:
        print(s.recv(4096)[:12].decode(errors="replace") or "nothing")
    except socket.timeout:
        print("nothing")
# No unwrap(): the TCP connection ends without close_notify.
s.close()
PY
}

before=$(grep -c 'TLS failed' estd.log || true)
[ "$(tls_client complete)" = 200 ] || fail "GET /cacerts over raw TLS did not answer 200"
sleep 0.5
after=$(grep -c 'TLS failed' estd.log || true)
[ "$after" = "$before" ] || fail "a client closing after its answer without close_notify was logged: \
$(grep 'TLS failed' estd.log | tail -n 1)"
ok "complete request, answer, TCP close without close_notify: no \"TLS failed\" line"
# A TCP health check: connect, close; and a client gone after part of its ClientHello.
python3 - "$TLS_PORT" <<'PY'
import socket, sys, time
for hello in (b"", b"\x16\x03\x01\x02\x00\x01\x00"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(hello)
    time.sleep(0.2)
    s.close()
PY
sleep 0.5
after=$(grep -c 'TLS failed' estd.log || true)
[ "$after" = "$before" ] || fail "a connection closed before its handshake was logged: \
$(grep 'TLS failed' estd.log | tail -n 1)"
ok "TCP connect and close, or close within the ClientHello: no \"TLS failed\" line"

certs=$("$ESTADM" -c var/estd.conf cert list | wc -l)
got=$(tls_client truncated)
[ "$got" = nothing ] || fail "a request whose body is cut short was answered: $got"
sleep 0.5
grep_all 'op=simpleenroll' estd.log && fail "a request whose body is cut short reached a handler: \
$(grep 'op=simpleenroll' estd.log | tail -n 1)"
grep_all 'issued serial=' estd.log && fail "a request whose body is cut short was issued a certificate"
[ "$("$ESTADM" -c var/estd.conf cert list | wc -l)" = "$certs" ] \
    || fail "the store holds a new certificate: $("$ESTADM" -c var/estd.conf cert list)"
ok "body cut short by a TCP close without close_notify: nothing answered, logged as enrolled, issued or stored"

# The user's side: the same CSR, sent whole, enrols.
got=$(tls_client whole)
[ "$got" = "HTTP/1.1 200" ] || fail "the whole request did not enrol: $got"
ok "the whole request enrols (200)"
finish
