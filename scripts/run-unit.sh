#!/usr/bin/env bash
# Runs each Check suite binary given and prints one closing line
# "unit: N passed, N failed" (Check's counts summed over the suites).
set -u
passed=0 failed=0 broken=0
for t in "$@"; do
	out=$(CK_FORK=yes CK_DEFAULT_TIMEOUT=60 "$t" 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -1)
	if [ -z "$line" ]; then
		printf '%s\n' "$out" | tail -20
		echo "FAIL $t: no Check summary (exit $rc)"
		broken=$((broken + 1))
		continue
	fi
	n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
	e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
	if [ "$rc" -ne 0 ] || [ $((f + e)) -ne 0 ]; then
		printf '%s\n' "$out" | grep -vE '^[0-9]+%:|^Running suite' | head -40
		echo "FAIL $(basename "$t"): $line"
	else
		echo "ok   $(basename "$t"): $n checks"
	fi
done
failed=$((failed + broken))
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
