#!/usr/bin/env bash
# `make run`: create the demo directory once, then run estd in the foreground.
#
#   scripts/run-demo.sh --preflight BUILD DIR   only say whether the demo's ports
#                                               are free (make run does this first)
#   scripts/run-demo.sh BUILD DIR [ESTD-OPTIONS...]
#
# ESTKIT_DEMO_PORTS="HTTP TLS MTLS" chooses the ports when DIR is created
# (default "8080 8442 8443"; 0 lets the kernel choose, as the tests do, with
# --ready-file among the ESTD-OPTIONS to learn them).
set -euo pipefail
preflight=no
if [ "${1:-}" = --preflight ]; then
	preflight=yes
	shift
fi
build=${1:-build}
dir=${2:-var}
shift $(( $# < 2 ? $# : 2 ))
read -r want_http want_tls want_mtls <<< "${ESTKIT_DEMO_PORTS:-8080 8442 8443}"

# listen_of NAME: the "host:port" of [listener NAME], or the default port of a new DIR.
listen_of() {
	if [ -f "$dir/estd.conf" ]; then
		awk -v want="[listener $1]" '
			/^\[/ { inside = ($0 == want) }
			inside && $1 == "listen" { print $3; exit }' "$dir/estd.conf"
	else
		case $1 in
		http) echo "127.0.0.1:$want_http" ;;
		tls) echo "127.0.0.1:$want_tls" ;;
		mtls) echo "127.0.0.1:$want_mtls" ;;
		esac
	fi
}

# A second `make run` must say plainly that one is running, before anything else.
for l in http tls mtls; do
	hp=$(listen_of $l)
	port=${hp##*:} host=${hp%:*}
	host=${host#[} host=${host%]}
	[ -n "$port" ] && [ "$port" != 0 ] || continue
	if (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null; then
		echo "make run: $hp (listener $l of $dir/estd.conf) is already in use: estd is" \
		    "probably running already (make run in another terminal; Ctrl-C stops it)." >&2
		echo "make run: use that server, or stop it and run make run again." >&2
		exit 1
	fi
done
[ $preflight = no ] || exit 0

if [ ! -f "$dir/estd.conf" ]; then
	# Without init's "start the server" hint: this script starts it.
	"$build/estadm" init "$dir" --http-port "$want_http" --tls-port "$want_tls" \
	    --mtls-port "$want_mtls" | grep -v '^start the server: '
fi
tls=$(listen_of tls) mtls=$(listen_of mtls) http=$(listen_of http)
cat <<MSG

estd is starting with $dir/estd.conf (Ctrl-C stops it). Listeners:
  http://$http   /cacerts only among EST operations; CRLs (/crl/...) and OCSP (/ocsp)
  https://$tls  TLS: /cacerts, /csrattrs, /simpleenroll and /serverkeygen (user estuser, password estpwd)
  https://$mtls  mutual TLS: /simplereenroll and /serverkeygen with the certificate being renewed; /simpleenroll with a vendor or RA certificate
Aliases: est (also the paths without one), estvendor (vendor mode), approval (manual approval).

Try, in another terminal:
  curl --cacert $dir/ca.pem https://$tls/.well-known/est/cacerts -o cacerts.p7
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -subj /CN=device1 -out device.csr
  curl --cacert $dir/ca.pem --anyauth -u estuser:estpwd --data-binary @device.csr -H "Content-Type: application/pkcs10" https://$tls/.well-known/est/simpleenroll -o cert.p7
  curl --cacert $dir/ca.pem --anyauth -u estuser:estpwd --data-binary @device.csr -H "Content-Type: application/pkcs10" https://$tls/.well-known/est/est/serverkeygen -o device-keypair
  build/estadm -c $dir/estd.conf cert list

MSG
exec "$build/estd" -c "$dir/estd.conf" "$@"
