#!/usr/bin/env bash
# Runs every integration test file (test_*.py with /usr/bin/python3,
# test_*.mjs / test_*.js with node) against $WSGATE and prints one closing
# line "integration: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
# WSGATE: the daemon under test, relative to the caller's directory
# (the Makefile passes build/wsgate or build/asan/wsgate from the top).
WSGATE=${WSGATE:-$here/../../build/wsgate}
case "$WSGATE" in /*) ;; *) WSGATE="$PWD/$WSGATE" ;; esac
export WSGATE
# BUILD: where the tools (wsgate-client, wsgate-bench) are; same rule.
BUILD=${BUILD:-$(dirname "$WSGATE")}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
export BUILD
cd "$here"
passed=0 failed=0
for t in test_*.py test_*.js; do
	[ -e "$t" ] || continue
	case "$t" in
	*.py) cmd=(/usr/bin/python3 "$t") ;;
	*) cmd=(node "$t") ;;
	esac
	start=$(date +%s)
	out=$(timeout 600 "${cmd[@]}" 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	p=$(sed -nE 's/.*: ([0-9]+) passed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.*, ([0-9]+) failed$/\1/p' <<<"$line")
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out" | tail -60
		echo "FAIL $t (exit $rc, $(($(date +%s) - start))s)"
	else
		echo "ok   $t: $p passed ($(($(date +%s) - start))s)"
	fi
done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
