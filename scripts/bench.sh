#!/usr/bin/env bash
# bench.sh: `make bench`.  Installs the peers (lighttpd, websockify,
# haproxy, nghttpx, perf) when missing, builds the C TCP echo backend, then runs
# bench/run.py, which starts each gateway in turn on loopback, drives it
# with wsgate-bench, prints one table with ratios to wsgate and writes it
# to docs/benchmarks.md.  Takes about 13 minutes.
#
# Environment: BENCH_BUILD (the build dir, default $B or build) and the
# BENCH_* knobs described at the top of bench/run.py, e.g.
#   BENCH_PEERS=wsgate,lighttpd BENCH_SCEN=t64,t64k BENCH_OUT=- scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BENCH_BUILD:-${B:-build}}
if ! WSGATE_DEPS_EXTRA=bench scripts/install-deps.sh; then
	echo "bench: installing dependencies failed; peers that are missing are skipped" >&2
fi
for t in wsgate wsgate-bench; do
	if [ ! -x "$build/$t" ]; then
		echo "bench: $build/$t is missing: run make all first" >&2
		exit 1
	fi
done
mkdir -p "$build/bench"
for t in tcp_echo syscall_cost; do
	cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -o "$build/bench/$t" "bench/$t.c"
done
BENCH_BUILD=$build exec python3 bench/run.py
