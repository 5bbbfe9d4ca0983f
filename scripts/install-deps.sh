#!/usr/bin/env bash
# Installs what building and testing wsgate needs on Debian 12, and only
# what is missing, so that it is quick on a machine that has everything.
# Set WSGATE_DEPS_EXTRA="bench" to add the peers `make bench` compares with.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config clang libclang-rt-14-dev
      libevent-dev libnghttp2-dev libssl-dev zlib1g-dev check openssl
      python3 python3-websockets python3-wsproto python3-h2
      nghttp2-client nghttp2-proxy nodejs chromium chromium-driver valgrind curl procps)
case " ${WSGATE_DEPS_EXTRA:-} " in
*" bench "*) pkgs+=(lighttpd websockify haproxy linux-perf) ;;
esac

# Some images ship npm inside their nodejs package; Debian's is separate.
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi

# Node test clients, pinned by the lockfile.
if [ -f tests/integration/package-lock.json ] &&
	[ ! -d tests/integration/node_modules ] ||
	[ tests/integration/package-lock.json -nt tests/integration/node_modules ]; then
	echo "install-deps: npm ci (tests/integration)"
	(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
	touch tests/integration/node_modules
fi
