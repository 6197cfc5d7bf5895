# Enrol over one TLS 1.2 connection with the CSR's challengePassword set to
# base64(tls-unique) of a connection (RFC 7030 §3.5): this one, this one
# resumed from an earlier session ("resumed": the server's Finished counts),
# or a connection made before ("other"); "suffixed" is this connection's
# value with one character more (a prefix match must not pass, EST-S-36).
# "finished13" connects with TLS 1.3 and sends the Finished-based value that
# tls-unique would be there, which TLS 1.3 does not define (CB-02).
# Prints the HTTP status.
# Usage: tls_unique_enroll.py CAFILE PORT PATH USER:PASS DIR same|resumed|other|suffixed|finished13
import base64, http.client, os, socket, ssl, subprocess, sys

cafile, port, path, cred, work, which = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
if which == "finished13":
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
else:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2

def connect(session=None):
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                           server_hostname="localhost", session=session)

sock = connect()
if which == "resumed":
    first = sock
    first.sendall(b"HEAD /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    first.recv(4096)
    sock = connect(first.session)
    if not sock.session_reused:
        sys.exit("the TLS session was not resumed")
source = connect() if which == "other" else sock
finished = source.get_channel_binding("tls-unique")
if which == "finished13" and (sock.version() != "TLSv1.3" or not finished):
    sys.exit("no TLS 1.3 Finished value: %s" % sock.version())
cb = base64.b64encode(finished).decode()
if which == "suffixed":
    cb += "X"
conf = os.path.join(work, "cb.conf")
with open(conf, "w") as f:
    f.write("[req]\nprompt = no\ndistinguished_name = dn\nattributes = attrs\n"
            "[dn]\nCN = bound-dev\n[attrs]\nchallengePassword = %s\n" % cb)
der = subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                      "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                      os.path.join(work, "cb.key"), "-config", conf, "-outform", "DER"],
                     check=True, capture_output=True).stdout
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx)
conn.sock = sock
conn.request("POST", path, body=base64.b64encode(der),
             headers={"Content-Type": "application/pkcs10",
                      "Authorization": "Basic " + base64.b64encode(cred.encode()).decode()})
print(conn.getresponse().status)
