#!/usr/bin/env bash
# run-fuzz.sh SECONDS FUZZER...: runs each libFuzzer target for SECONDS
# on its seed corpus (tests/fuzz/corpus/NAME, kept in the repo) plus a
# scratch corpus under build/, and stops at the first crash.
set -euo pipefail
secs=$1
shift
for f in "$@"; do
	name=$(basename "$f")
	seeds=tests/fuzz/corpus/$name
	work=build/fuzz/work/$name
	mkdir -p "$seeds" "$work"
	echo "fuzz: $name for ${secs}s"
	"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=build/fuzz/ "$work" "$seeds" 2>&1 | tail -12
done
echo "fuzz: all targets ran ${secs}s with no crash"
