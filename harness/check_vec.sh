#!/bin/sh
# check_vec.sh - fail the build when a hot kernel's ISA variant lost its packed arithmetic.
#
# Every hot elementwise kernel is compiled once per ISA path (algorithms/isa.h: name_avx512,
# name_avx2, name_sse2). A compiler that falls back to scalar code for one path still gives the
# right bits, only 2-8x slower on the machines that take that path, so no test would notice:
# this check reads the object code (objdump) and requires, in every variant of every kernel
# listed below, at least MIN packed multiplies (mulps / mulpd, any width) and, where named, an
# instruction that only a vectorised body contains (the exp's packed float -> int conversion).
#
# usage: check_vec.sh OBJ... ; a line per variant with its counts on failure, exit 1.
# The table: kernel  min_packed_mul  [required mnemonic, regex]
set -u
TABLE='
exp_block           8   cvttps2dq
cosw_norms          1
cosw_project_row    1
cosw_sgd_row        1
scale_clamp_max     1
scale_cols          1
queue_scale_max     1
axpy_row            1
synth_layer_accum   1
synth_tanh_inplace  4
'
[ $# -ge 1 ] || { echo "usage: check_vec.sh OBJ..." >&2; exit 2; }
command -v objdump >/dev/null 2>&1 || { echo "check_vec: objdump missing (binutils)" >&2; exit 2; }
for o in "$@"; do
    [ -r "$o" ] || { echo "check_vec: cannot read $o" >&2; exit 2; }
    objdump -d --no-show-raw-insn "$o" | awk -v OBJ="$o" '
        /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); seen[fn] = 1; next }
        /\t/ { n = split($0, a, "\t"); split(a[2], b, " "); op = b[1]
               if (op ~ /^v?mulp[sd]$/) mul[fn]++
               ops[fn] = ops[fn] " " op }
        END { for (f in seen) print OBJ, f, mul[f] + 0, ops[f] }'
done > "${TMPDIR:-/tmp}/check_vec.$$"
status=0
checked=0
echo "$TABLE" | while read -r kern min req; do
    [ -n "$kern" ] || continue
    for isa in avx512 avx2 sse2; do
        line=$(awk -v F="${kern}_$isa" '$2 == F' "${TMPDIR:-/tmp}/check_vec.$$")
        [ -n "$line" ] || continue
        echo found
        mul=$(echo "$line" | awk '{print $3}')
        if [ "$mul" -lt "$min" ]; then
            echo "check_vec: ${kern}_$isa has $mul packed multiplies (< $min): not vectorised" \
                 "on the $isa path ($(echo "$line" | awk '{print $1}'))" >&2
            echo fail
        elif [ -n "$req" ] && ! echo "$line" | grep -Eq " v?$req( |\$)"; then
            echo "check_vec: ${kern}_$isa has no $req: its body is not vectorised on the" \
                 "$isa path ($(echo "$line" | awk '{print $1}'))" >&2
            echo fail
        fi
    done
done > "${TMPDIR:-/tmp}/check_vec.$$.r"
found=$(grep -c found "${TMPDIR:-/tmp}/check_vec.$$.r")
fails=$(grep -c fail "${TMPDIR:-/tmp}/check_vec.$$.r")
rm -f "${TMPDIR:-/tmp}/check_vec.$$" "${TMPDIR:-/tmp}/check_vec.$$.r"
if [ "$found" -eq 0 ]; then
    echo "check_vec: no kernel variant of the table found in $*" >&2
    exit 1
fi
[ "$fails" -eq 0 ] || exit 1
exit 0
