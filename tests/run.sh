#!/bin/sh
# run.sh - run every cmocka test binary, show its output, and close with one summary line
# 'tests: N passed, N failed' (the plain line CI reads). Exit non-zero if any test failed or a
# binary crashed. A test that cannot run here prints a line starting 'SKIP' and no PASSED line:
# it is listed as skipped, never counted as passed.
set -u
pass=0; fail=0; crashed=""; skipped=""
for t in "$@"; do
    case "$t" in *.sh) out=$(sh "$t" 2>&1); rc=$? ;; *) out=$("$t" 2>&1); rc=$? ;; esac
    printf '%s\n' "$out" | grep -q '^SKIP' && skipped="$skipped $t"
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then crashed="$crashed $t"; fail=$((fail + 1)); fi
done
[ -n "$crashed" ] && echo "crashed or exited non-zero:$crashed"
[ -n "$skipped" ] && echo "skipped (not counted as passed):$skipped"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
