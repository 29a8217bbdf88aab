#!/bin/sh
# test_check_vec.sh - harness/check_vec.sh (the build's vectorisation check) can fail:
#   - the real kernels' objects pass;
#   - a kernel whose body cannot vectorise (a loop-carried recurrence), compiled through the same
#     isa.h variants under a name in the check's table, fails it and is named;
#   - the same name with a plain vectorisable body passes.
# Prints cmocka-style PASSED/FAILED lines for tests/run.sh.
set -u
B=${DCQB_BUILD:-build}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "[       OK ] $1"; }
ko() { fail=$((fail + 1)); echo "[  FAILED  ] $1"; }
CC=${CC:-cc}
FLAGS="-O3 -std=c11 -D_POSIX_C_SOURCE=200809L -ffp-contract=off -Iinclude -Ialgorithms -c"

if sh harness/check_vec.sh "$B/algorithms/ops.o" "$B/algorithms/cosw.o" "$B/algorithms/cosxent.o" \
       "$B/datasets/synth_kernels.o" 2>"$T/real.err"; then ok real_kernels
else cat "$T/real.err"; ko real_kernels; fi

cat > "$T/scalar.c" <<'C'
#include "isa.h"
/* y_d = a y_(d-1) + x_d: each element needs the previous one, nothing to pack */
DCQB_BODY_ATTR void axpy_row_body(float *y, const float *x, float a, int D)
{
    for (int d = 1; d < D; d++) y[d] = a * y[d - 1] + x[d];
}
void axpy_row(float *y, const float *x, float a, int D);
DCQB_ISA_VARIANTS_VOID(axpy_row, (float *y, const float *x, float a, int D), (y, x, a, D))
C
sed -e 's/a \* y\[d - 1\] + x\[d\]/y[d] + a * x[d]/' -e 's/for (int d = 1;/for (int d = 0;/' \
    "$T/scalar.c" > "$T/vector.c"
$CC $FLAGS "$T/scalar.c" -o "$T/scalar.o" && $CC $FLAGS "$T/vector.c" -o "$T/vector.o" || {
    ko compile; echo "[  FAILED  ] $fail test(s)"; exit 1; }
if sh harness/check_vec.sh "$T/scalar.o" 2>"$T/scalar.err"; then ko scalar_body_fails
elif grep -q "axpy_row_avx2 has 0 packed multiplies" "$T/scalar.err"; then ok scalar_body_fails
else cat "$T/scalar.err"; ko scalar_body_fails; fi
if sh harness/check_vec.sh "$T/vector.o" 2>"$T/vector.err"; then ok vector_body_passes
else cat "$T/vector.err"; ko vector_body_passes; fi

[ "$pass" -gt 0 ] && echo "[  PASSED  ] $pass test(s)."
[ "$fail" -gt 0 ] && echo "[  FAILED  ] $fail test(s)."
[ "$fail" -eq 0 ]
