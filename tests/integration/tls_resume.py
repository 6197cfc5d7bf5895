# Whether estd resumes a TLS session, and for how many others it keeps one.
#
#   tls_resume.py CAFILE PORT 1.2|1.3 clean|dirty [CERT KEY]
#       a connection, closed with close_notify (clean) or without (dirty),
#       then one offering its session: prints "reused" or "new".
#   tls_resume.py CAFILE PORT 1.3 flood N
#       a session, then N other full handshakes, then that session offered
#       again, then a new session offered at once: prints two words.
#   tls_resume.py CAFILE PORT 1.2|1.3 reenroll CERT KEY CSR_B64 COMMAND...
#       a session with the client certificate, a /simplereenroll of the CSR
#       on it resumed, COMMAND run, then another on it resumed: prints
#       "reused STATUS" for each.
import socket, ssl, subprocess, sys, time

cafile, port, version, mode = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ctx.maximum_version = \
    ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
if mode != "flood" and len(sys.argv) > 6:
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])


def connect(session=None):
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                           server_hostname="localhost", session=session)


def session_of(clean):
    """A connection's session, once an answer has come (TLS 1.3 sends it then)."""
    s = connect()
    s.sendall(b"HEAD /.well-known/est/cacerts HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    session = s.session
    if clean:
        # Our close_notify goes; estd closes without answering one.
        try:
            s.unwrap()
        except (ssl.SSLError, OSError):
            pass
    s.close()
    # The server frees the connection when it sees the close.
    time.sleep(0.3)
    return session


def offered(session):
    s = connect(session)
    reused = s.session_reused
    s.close()
    return "reused" if reused else "new"


def reenroll(session, body):
    """A /simplereenroll on a connection offering session: (reused, status, its session)."""
    s = connect(session)
    s.sendall(b"POST /.well-known/est/simplereenroll HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/pkcs10\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n" % len(body) + body)
    answer = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        answer += chunk
    reused, session = s.session_reused, s.session
    s.close()
    return reused, answer.split(b" ", 2)[1].decode(), session


if mode == "reenroll":
    body = open(sys.argv[7], "rb").read()
    session = session_of(False)
    reused, status, session = reenroll(session, body)
    print("reused" if reused else "new", status)
    subprocess.run(sys.argv[8:], check=True, stdout=subprocess.DEVNULL)
    reused, status, session = reenroll(session, body)
    print("reused" if reused else "new", status)
elif mode == "flood":
    first = session_of(False)
    for _ in range(int(sys.argv[5])):
        connect().close()
    print(offered(first), offered(session_of(False)))
else:
    print(offered(session_of(mode == "clean")))
