#!/usr/bin/env bash
# Compiles the C embedding example of README.md against the libws headers
# and links it with libws.a, so the documented API cannot drift from the code.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
extra=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{f=1;next}/^```$/{f=0}f' README.md > "$tmp/example.c"
printf 'int main(void) { return serve(-1, 0, 0, 0) == 0; }\n' >> "$tmp/example.c"
cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-prototypes \
	-Isrc/ws $extra "$tmp/example.c" "$build/libws.a" -lssl -lcrypto -lz -o "$tmp/example"
echo "readme: embedding example compiles and links"
