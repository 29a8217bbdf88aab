#!/bin/sh
# run.sh - run every cmocka test binary, show its output, and close with one summary line
# 'tests: N passed, N failed' (the plain line CI reads). Exit non-zero if any test failed or a
# binary crashed.
set -u
pass=0; fail=0; crashed=""
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then crashed="$crashed $t"; fail=$((fail + 1)); fi
done
[ -n "$crashed" ] && echo "crashed or exited non-zero:$crashed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
