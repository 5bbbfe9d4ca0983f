#!/usr/bin/env bash
# The Autobahn-style conformance suite (see README.md).
#
#   run.sh               full suite against build/wsgate over ws, wss, h2c, h2;
#                        report in build/conformance/report.md (what
#                        `make conformance` runs)
#   run.sh --fast        the fast subset (for `make check`)
#   run.sh --validate    the suite against Python websockets: ws://, and h2c
#                        through h2_proxy.py (RFC 8441 front, same server)
#   run.sh --selftest    the suite against deliberately broken servers: the
#                        cases that must catch each breakage must do so
#
# Other options go to conformance.py (--cases 6.4.*,7 --transports ws -v ...).
# WSGATE selects the daemon binary (default build/wsgate).  The daemon gets
# a generated config on free loopback ports and a fresh self-signed
# certificate in a temp dir; it is stopped by PID when the run ends.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
py=/usr/bin/python3
mode=wsgate
args=()
for a in "$@"; do
	case "$a" in
	--validate) mode=validate ;;
	--selftest) mode=selftest ;;
	*) args+=("$a") ;;
	esac
done

tmp="$(mktemp -d /tmp/wsgate-conf.XXXXXX)"
pid=""
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Wait (bounded) until something listens on 127.0.0.1:$1; fails when the
# process $pid died first.
wait_port() {
	local i
	for i in $(seq 200); do
		if "$py" -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2).close()' "$1" 2>/dev/null; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# Start echo_server.py in mode $1; sets $pid and $port.
start_ref() {
	rm -f "$tmp/port"
	"$py" "$here/echo_server.py" "$tmp/port" "$1" 2>"$tmp/server.log" &
	pid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	if [ ! -s "$tmp/port" ]; then
		cat "$tmp/server.log"
		echo "conformance: echo server ($1) did not start"
		exit 1
	fi
	port="$(cat "$tmp/port")"
}

stop_ref() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=""
}

if [ "$mode" = validate ]; then
	start_ref websockets
	ref_pid=$pid
	# h2c through h2_proxy.py (RFC 8441 -> RFC 6455 in front of the same
	# server) checks the suite's HTTP/2 transport against independent code.
	"$py" "$here/h2_proxy.py" "$tmp/h2port" "$port" 2>"$tmp/proxy.log" &
	pid=$!
	for _ in $(seq 100); do [ -s "$tmp/h2port" ] && break; sleep 0.05; done
	trap 'kill -TERM "$ref_pid" 2>/dev/null; wait "$ref_pid" 2>/dev/null; cleanup' EXIT
	"$py" "$here/conformance.py" --port "$port" --transports ws --allow-non-strict \
		--h2c-port "$(cat "$tmp/h2port")" \
		--label "Python websockets $("$py" -c 'import websockets; print(websockets.__version__)')" \
		--report "$top/build/conformance/validate.md" "${args[@]}"
	exit $?
fi

# The suite must also be able to fail: broken servers, each with the
# cases that must catch it and the verdict they must give.
if [ "$mode" = selftest ]; then
	rc=0
	while read -r srv verdict cases; do
		start_ref "$srv"
		if "$py" "$here/conformance.py" --port "$port" --transports ws --expect "$verdict" \
			--cases "$cases" --report "$tmp/selftest.md" >"$tmp/out" 2>&1; then
			echo "ok   self-test $srv: $cases all $verdict"
		else
			grep -E '^  ws ' "$tmp/out" | grep -v " $verdict " | head -10
			echo "FAIL self-test $srv: $cases not all $verdict"
			rc=1
		fi
		stop_ref
	done <<'LIST'
blind FAILED 2.5,3.1,3.2,3.5,3.6,3.7,4.1.1,4.2.2,5.1,5.2,5.9,5.12,5.18,6.3.1,6.4.1,6.4.3,6.8.1,6.20.1,6.21.1,7.3.2,7.3.6,7.5.1,7.9.*,7.13.*
no-deflate UNIMPLEMENTED 12.1.1,12.2.3,13.1.1,13.3.1,13.7.1
lie-nct FAILED 13.2.1,13.2.5,13.2.10,13.5.5,13.6.8
lie-window FAILED 13.3.4,13.3.8,13.3.12,13.5.6
LIST
	exit $rc
fi

wsgate="${WSGATE:-$top/build/wsgate}"
case "$wsgate" in /*) ;; *) wsgate="$top/${wsgate#./}" ;; esac
if [ ! -x "$wsgate" ]; then
	echo "conformance: no daemon at $wsgate (build it first: make all)"
	exit 1
fi
port="$(free_port)"
tls_port="$(free_port)"
while [ "$tls_port" = "$port" ]; do tls_port="$(free_port)"; done
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1; then
	echo "conformance: openssl could not make a certificate"
	exit 1
fi
cat >"$tmp/wsgate.conf" <<CONF
[server]
workers = 1
log_level = warn
access_log = off
shutdown_timeout = 1s

[listen plain]
address = 127.0.0.1:$port

[listen tls]
address = 127.0.0.1:$tls_port
tls_certificate = $tmp/cert.pem
tls_key = $tmp/key.pem

[route echo]
path = /echo
backend = echo
permessage_deflate = on
max_frame_size = 64M
max_message_size = 64M
CONF
"$wsgate" -c "$tmp/wsgate.conf" 2>"$tmp/wsgate.log" &
pid=$!
if ! wait_port "$port" || ! wait_port "$tls_port"; then
	tail -20 "$tmp/wsgate.log"
	echo "conformance: wsgate did not start"
	exit 1
fi
case "$wsgate" in *asan*) export CONF_SLOW=${CONF_SLOW:-3} ;; esac
report="$top/build/conformance/report.md"
for a in "${args[@]}"; do [ "$a" = --fast ] && report="$top/build/conformance/fast.md"; done
"$py" "$here/conformance.py" --port "$port" --tls-port "$tls_port" --label "wsgate ($wsgate)" \
	--report "$report" "${args[@]}"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "conformance: wsgate died during the run; its log:"
	tail -40 "$tmp/wsgate.log"
	rc=1
	pid=""
elif [ -s "$tmp/wsgate.log" ]; then
	echo "wsgate log (last lines):"
	tail -10 "$tmp/wsgate.log"
fi
exit $rc
