#!/usr/bin/env bash
# Seed 000's own relying party (issue 15): two hosts enrol with estd, trust
# only what /cacerts gave them, and bring up an OpenVPN 2.6 TLS session
# (--dev null: no tun device; both ends on 127.0.0.1 UDP). With
# --crl-verify on the CRL estd serves, the server refuses the client once
# `estadm cert revoke` has revoked it. Skipped (77) without openvpn.
source "$(dirname "$0")/lib.sh"

command -v openvpn >/dev/null || { echo "skip: openvpn is not installed"; exit 77; }
command -v timeout >/dev/null || exit 77
cd "$T"
init_demo
start_estd

# The trust anchor comes from /cacerts over plain HTTP, as seed 000 does it.
curl -sf -o cacerts.p7 "http://127.0.0.1:$HTTP_PORT/.well-known/est/cacerts" || fail "/cacerts"
b64d < cacerts.p7 | openssl pkcs7 -inform DER -print_certs -out cacerts.pem
TA="$T/cacerts.pem"

enrol_demo vpnserver
enrol_demo vpnclient
ok "two hosts enrolled, trusting only /cacerts"

udp_port() {
	python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# session LOG [server options...]: an OpenVPN server and client in TLS mode;
# returns when the client completes initialisation, or after 15 seconds.
session() {
	local log=$1 port vs vc; shift
	port=$(udp_port)
	timeout 30 openvpn --dev null --proto udp4 --local 127.0.0.1 --lport "$port" --tls-server \
		--dh none --ca "$TA" --cert vpnserver.pem --key vpnserver.key --remote-cert-tls client \
		--verb 3 "$@" > "$log.server" 2>&1 &
	vs=$!
	timeout 30 openvpn --dev null --proto udp4 --remote 127.0.0.1 "$port" --nobind --tls-client \
		--ca "$TA" --cert vpnclient.pem --key vpnclient.key --remote-cert-tls server \
		--hand-window 10 --verb 3 > "$log.client" 2>&1 &
	vc=$!
	for _ in $(seq 75); do
		grep_all 'Initialization Sequence Completed' "$log.client" && break
		grep_all 'certificate revoked' "$log.server" && break
		sleep 0.2
	done
	kill "$vs" "$vc" 2>/dev/null || true
	wait "$vs" "$vc" 2>/dev/null || true
}

curl -sf "http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl" | openssl crl -inform DER -out crl.pem \
	|| fail "cannot fetch estd's CRL"
session good --crl-verify crl.pem
grep_all 'Initialization Sequence Completed' good.client \
	|| fail "OpenVPN handshake failed: $(grep -h 'VERIFY\|Error\|ERROR' good.server good.client | head -5)"
grep_all 'Peer Connection Initiated' good.server || fail "the server saw no peer"
ok "OpenVPN (TLS mode, --dev null, UDP on 127.0.0.1) completes its handshake with the EST certificates"

"$ESTADM" -c "$T/var/estd.conf" cert revoke "$(openssl x509 -in vpnclient.pem -noout -serial | cut -d= -f2)" \
	--reason keyCompromise >/dev/null
curl -sf "http://127.0.0.1:$HTTP_PORT/crl/ManagementCA.crl" | openssl crl -inform DER -out crl.pem \
	|| fail "cannot fetch estd's CRL"
session revoked --crl-verify crl.pem
grep_all 'VERIFY ERROR.*certificate revoked' revoked.server \
	|| fail "the OpenVPN server did not refuse the revoked client: $(grep -h 'VERIFY' revoked.server | head -3)"
! grep_all 'Initialization Sequence Completed' revoked.client || fail "the revoked client got a session"
ok "OpenVPN --crl-verify on estd's CRL refuses the revoked client"

finish
