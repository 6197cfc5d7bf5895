#!/usr/bin/env bash
# `make run`: create the demo directory once, then run estd in the foreground.
set -euo pipefail
build=${1:-build}
dir=${2:-var}
if [ ! -f "$dir/estd.conf" ]; then
	"$build/estadm" init "$dir"
fi
# The ports as the configuration has them (estd logs them again when it listens).
port_of() {
	awk -v want="[listener $1]" '
		/^\[/ { inside = ($0 == want) }
		inside && $1 == "listen" { n = split($3, a, ":"); print a[n]; exit }' "$dir/estd.conf"
}
tls=$(port_of tls)
mtls=$(port_of mtls)
http=$(port_of http)
cat <<MSG

estd is starting with $dir/estd.conf (Ctrl-C stops it). Listeners:
  http://127.0.0.1:$http   /cacerts only
  https://127.0.0.1:$tls  TLS: /cacerts, /csrattrs, /simpleenroll and /serverkeygen (user estuser, password estpwd)
  https://127.0.0.1:$mtls  mutual TLS: /simplereenroll with the certificate being renewed

Try, in another terminal:
  curl --cacert $dir/ca.pem https://127.0.0.1:$tls/.well-known/est/cacerts -o cacerts.p7
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout device.key -subj /CN=device1 -out device.csr
  curl --cacert $dir/ca.pem --anyauth -u estuser:estpwd --data-binary @device.csr -H "Content-Type: application/pkcs10" https://127.0.0.1:$tls/.well-known/est/simpleenroll -o cert.p7
  curl --cacert $dir/ca.pem --anyauth -u estuser:estpwd --data-binary @device.csr -H "Content-Type: application/pkcs10" https://127.0.0.1:$tls/.well-known/est/est/serverkeygen -o device-keypair

MSG
exec "$build/estd" -c "$dir/estd.conf"
