#!/usr/bin/env python3
"""A scripted HTTPS server for estclient tests: canned EST answers.

It answers what estd does not (yet) do -- /serverkeygen, /csrattrs, 202
pending answers, server errors -- from a JSON script, and logs every
request, with the tls-unique of its connection, so a test can check what
the client sent.

Script (JSON): {"METHOD /path": [answer, answer, ...], ...}; answers are
used in order and the last one repeats. An answer is
  {"status": 200, "headers": {"Name": "value"}, "body": "text" or
   "body_file": "path", "close": false, "require_auth": false}
require_auth: answer 401 with a challenge until an Authorization header
comes; true challenges Basic, a string names the challenge ("Bearer",
'Digest realm="x", nonce="n"', or several separated by " | " for several
WWW-Authenticate headers). close: end the connection after this answer.
@PORT@ in a header value is the stub's own port (a Location that names it).
delay: seconds to wait before answering. drip: seconds between the
body's bytes, sent one at a time (a server that never quite finishes). As libest's example server does:
close_on_401 ends the connection after a 401 without saying so; pop
answers 401 unless the posted CSR holds base64(tls-unique) of its
connection (its challengePassword; a byte search is enough for a stub).

Log: one JSON object per line: method, path, headers, body (text),
conn (connection number), tls_unique (base64, TLS 1.2 only), peer (the
client certificate's subject, "CN=...", with --client-ca), time.
"""
import argparse
import base64
import http.server
import itertools
import json
import os
import ssl
import sys
import threading
import time

LOCK = threading.Lock()
SHORT = {"commonName": "CN", "organizationName": "O", "countryName": "C"}
CONNS = itertools.count(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.conn_id = next(CONNS)

    def log_message(self, fmt, *args):
        pass

    def answer_for(self, key):
        with LOCK:
            answers = self.server.script.get(key)
            if not answers:
                return {"status": 404, "body": "no such route in the stub script\n"}
            used = self.server.used.get(key, 0)
            self.server.used[key] = used + 1
            return answers[min(used, len(answers) - 1)]

    def record(self, body):
        tls_unique = None
        try:
            cb = self.connection.get_channel_binding("tls-unique")
            if cb is not None:
                tls_unique = base64.b64encode(cb).decode()
        except (ValueError, ssl.SSLError):
            pass
        peer = self.connection.getpeercert()
        if peer:
            peer = ",".join("%s=%s" % (SHORT.get(k, k), v)
                            for rdn in peer.get("subject", ()) for k, v in rdn)
        entry = {"method": self.command, "path": self.path, "headers": dict(self.headers),
                 "body": body.decode("latin-1"), "conn": self.conn_id,
                 "tls_unique": tls_unique, "peer": peer or None, "time": time.time()}
        with LOCK, open(self.server.log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else b""
        self.record(body)
        key = "%s %s" % (self.command, self.path)
        ans = self.answer_for(key)
        unauthorized = ans.get("require_auth") and "Authorization" not in self.headers
        if not unauthorized and ans.get("pop"):
            cb = self.connection.get_channel_binding("tls-unique")
            der = base64.b64decode(body) if body else b""
            unauthorized = cb is None or base64.b64encode(cb) not in der
        if unauthorized:
            with LOCK:
                self.server.used[key] -= 1
            scheme = ans.get("require_auth") or True
            if scheme is True:
                scheme = 'Basic realm="stub"'
            ans = {"status": 401, "challenges": scheme.split(" | "),
                   "body": "credentials needed\n", "drop": ans.get("close_on_401", False)}
        time.sleep(ans.get("delay", 0))
        if "body_file" in ans:
            with open(ans["body_file"], "rb") as f:
                payload = f.read()
        else:
            payload = ans.get("body", "").encode()
        self.send_response(ans.get("status", 200))
        port = str(self.server.server_address[1])
        for name, value in ans.get("headers", {}).items():
            self.send_header(name, value.replace("@PORT@", port))
        for value in ans.get("challenges", []):
            self.send_header("WWW-Authenticate", value)
        self.send_header("Content-Length", str(len(payload)))
        if ans.get("close"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if ans.get("drip"):
            try:
                for i in range(len(payload)):
                    self.wfile.write(payload[i:i + 1])
                    self.wfile.flush()
                    time.sleep(ans["drip"])
            except OSError:
                self.close_connection = True
                return
        else:
            self.wfile.write(payload)
        if ans.get("drop"):
            self.close_connection = True

    do_GET = handle_any
    do_POST = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--script", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--tls12", action="store_true", help="TLS 1.2 only (tls-unique)")
    p.add_argument("--client-ca", help="ask for a client certificate under this CA")
    p.add_argument("--no-ems", action="store_true",
                   help="TLS 1.2 without Extended Master Secret (RFC 7627)")
    a = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.tls12 or a.no_ems:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if a.no_ems:
        ctx.options |= 0x1  # SSL_OP_NO_EXTENDED_MASTER_SECRET (OpenSSL 3)
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(a.client_ca)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(a.script) as f:
        srv.script = json.load(f)
    srv.used = {}
    srv.log_path = a.log
    open(a.log, "w").close()
    with open(a.ready_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(a.ready_file + ".tmp", a.ready_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
