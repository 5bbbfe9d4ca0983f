#!/usr/bin/env bash
# run-dev.sh [WSGATE]: runs the daemon in the foreground with the bundled
# development config (conf/dev.conf): http/ws on 127.0.0.1:8080, https/wss
# on 127.0.0.1:8443 with a self-signed certificate made on the first run,
# an echo route at /echo and the demo page of www/.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bin=${1:-build/wsgate}
mkdir -p run
if [ ! -s run/cert.pem ] || [ ! -s run/key.pem ]; then
	echo "run-dev: creating a self-signed certificate for localhost in run/"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout run/key.pem -out run/cert.pem -days 365 -subj "/CN=localhost" \
		-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
	chmod 600 run/key.pem
fi
# The config wants absolute paths: fill in where the tree lives.
sed "s|@TOP@|$top|g" conf/dev.conf >run/dev.conf
echo "run-dev: open http://127.0.0.1:8080/ or https://127.0.0.1:8443/ (self-signed)"
exec "$bin" -c run/dev.conf
