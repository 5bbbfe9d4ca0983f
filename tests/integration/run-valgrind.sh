#!/usr/bin/env bash
# Runs a representative subset of the integration suite with the daemon
# ($WSGATE, a normal build) under valgrind's memcheck (WSGATE_VALGRIND=1,
# see harness.py): a test fails on any memory error, or on a definite or
# indirect leak when the daemon exits.  The subset touches every major
# code path (echo over ws/wss, TCP and unix bridges, deflate, error
# statuses, limits, backpressure, SIGHUP reload, SIGTERM drain, HTTP/2
# echo and bridge, backend and client faults, hostile HTTP/1.1) in a few
# minutes; then the startup and configuration error exits.
# Prints "valgrind: N passed, N failed"; exits non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
WSGATE=${WSGATE:-$here/../../build/wsgate}
case "$WSGATE" in /*) ;; *) WSGATE="$PWD/$WSGATE" ;; esac
export WSGATE WSGATE_VALGRIND=1
command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 1; }
case "$WSGATE" in *asan*) echo "valgrind: $WSGATE is a sanitizer build; use build/wsgate"; exit 1 ;; esac
cd "$here" || exit 1

# Whole files, or FILE:Class.test_name for single cases of the slow files.
# The other abuse cases pass under valgrind too (their bounds scale
# with SLOW) but add a minute and no code path the ones here miss.
CASES=(
	test_echo.py
	test_bridge.py
	test_deflate.py
	test_errors.py
	test_limits.py
	test_backpressure.py
	test_signals.py
	test_h2.py
	test_faults.py:FaultTest.test_backend_refuses_502
	test_faults.py:FaultTest.test_backend_resets_after_data
	test_faults.py:FaultTest.test_backend_closes_mid_message
	test_faults.py:FaultTest.test_client_resets_mid_header
	test_faults.py:FaultTest.test_client_resets_mid_payload
	test_faults.py:FaultTest.test_client_half_close_after_close_frame
	test_faults.py:FaultTest.test_client_vanishes
	test_abuse.py:AbuseTest.test_garbage_before_request_line
	test_abuse.py:AbuseTest.test_smuggling_attempts
	test_abuse.py:AbuseTest.test_huge_frame_header
	test_abuse.py:AbuseTest.test_deflate_bomb_fragmented
	test_abuse.py:H2AbuseTest.test_h2_rapid_reset
	test_abuse.py:H2AbuseTest.test_h2_continuation_flood
	test_abuse.py:H2AbuseTest.test_h2_zero_window_stall
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The driver, one python3 per file: runs the named cases (or all of
# them) and prints the closing line harness.main() would print.
cat >"$tmp/subset.py" <<'PY'
import os, runpy, sys, types, unittest
sys.path.insert(0, os.getcwd())  # harness.py and h2ws.py
file, names = sys.argv[1], sys.argv[2:]
sys.argv = [file]
mod = types.ModuleType("valgrind_subset")
mod.__dict__.update(runpy.run_path(file, run_name="valgrind_subset"))
loader = unittest.defaultTestLoader
suite = loader.loadTestsFromNames(names, mod) if names else loader.loadTestsFromModule(mod)
res = unittest.TextTestRunner(verbosity=2).run(suite)
failed = len(res.failures) + len(res.errors) + len(res.skipped) + len(res.unexpectedSuccesses)
print(f"{file}: {max(0, res.testsRun - failed)} passed, {failed} failed")
sys.exit(1 if failed or res.testsRun == 0 else 0)
PY

declare -A picked
order=()
for c in "${CASES[@]}"; do
	f=${c%%:*}
	[ -e "$f" ] || { echo "valgrind: $f missing"; exit 1; }
	[ -n "${picked[$f]+x}" ] || order+=("$f")
	if [ "$c" = "$f" ]; then picked[$f]=""; else picked[$f]="${picked[$f]:-} ${c#*:}"; fi
done

passed=0 failed=0 t0=$(date +%s)
for f in "${order[@]}"; do
	start=$(date +%s)
	# shellcheck disable=SC2086 # the case names are single words
	out=$(timeout 300 /usr/bin/python3 "$tmp/subset.py" "$f" ${picked[$f]} 2>&1)
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -1)
	p=$(sed -nE 's/.*: ([0-9]+) passed.*/\1/p' <<<"$line")
	n=$(sed -nE 's/.*, ([0-9]+) failed$/\1/p' <<<"$line")
	p=${p:-0} n=${n:-0}
	if [ "$rc" -ne 0 ] && [ "$n" -eq 0 ]; then n=1; fi
	passed=$((passed + p)) failed=$((failed + n))
	if [ "$rc" -ne 0 ]; then
		printf '%s\n' "$out" | tail -80
		echo "FAIL $f (exit $rc, $(($(date +%s) - start))s)"
	else
		echo "ok   $f: $p passed ($(($(date +%s) - start))s)"
	fi
done

# Exits before or during startup (configuration check, configuration
# errors, a certificate that cannot be loaded, usage): each must free
# everything too.  "ARGS:STATUS", STATUS the exit status wanted.
bad_backend='[listen a]\naddress = 127.0.0.1:0\n[route e]\npath = /e\nbackend = nope:x\n'
bad_cert='[listen a]\naddress = 127.0.0.1:0\ntls_certificate = /nonexistent\ntls_key = /nonexistent\n[route e]\npath = /e\nbackend = echo\n'
printf "%b" "$bad_backend" >"$tmp/bad.conf"
printf "%b" "$bad_cert" >"$tmp/cert.conf"
for run in "-t -c $here/../../conf/wsgate.conf:0" "-t -c $tmp/bad.conf:1" "-c $tmp/bad.conf:1" \
	"-c $tmp/cert.conf:1" "-c $tmp/nonexistent.conf:1" "--bogus:2" "--version:0"; do
	want=${run##*:} args=${run%:*}
	# shellcheck disable=SC2086 # the arguments are meant to be split
	valgrind --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --log-file="$tmp/vg.log" \
		"$WSGATE" $args >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg.log"; then
		cat "$tmp/out" "$tmp/vg.log"
		echo "FAIL wsgate $args (exit $rc, want $want)"
		failed=$((failed + 1))
	else
		passed=$((passed + 1))
	fi
done
echo "ok   startup and configuration exits ($(($(date +%s) - t0))s in all)"
echo "valgrind: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
