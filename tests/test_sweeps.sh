#!/bin/sh
# test_sweeps.sh - every sweep file shipped in sweeps/ loads and expands (`sweep FILE --dry-run`:
# keys known, values in range, heads registered, no run_id collision), so a typo in a profile
# fails here rather than hours into `make reproduce` or `make scale`; and a broken copy of one
# is refused with its file and line named.
# Prints cmocka-style PASSED/FAILED lines for tests/run.sh.
set -u
BIN=${DCQBENCH:-bin/dcqbench}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "[       OK ] $1"; }
ko() { fail=$((fail + 1)); echo "[  FAILED  ] $1"; }
for f in sweeps/*.conf; do
    n=$(basename "$f" .conf)
    if "$BIN" sweep "$f" --dry-run --results "$T/r" >"$T/$n.log" 2>&1 &&
       grep -q "^# sweep .*: [0-9]* runs in this shard" "$T/$n.log"; then ok "$n"
    else tail -n 3 "$T/$n.log"; ko "$n"; fi
done
# a misspelt key in the scale ladder's base section: refused, naming the file and the line
sed 's/^lr_schedule = cosine$/lr_schedul = cosine/' sweeps/scale.conf > "$T/bad.conf"
line=$(grep -n '^lr_schedul = ' "$T/bad.conf" | cut -d: -f1)
if "$BIN" sweep "$T/bad.conf" --dry-run --results "$T/r" >"$T/bad.log" 2>&1; then
    ko broken_copy_refused
elif grep -q "bad.conf:$line" "$T/bad.log" && grep -q "lr_schedul" "$T/bad.log"; then
    ok broken_copy_refused
else cat "$T/bad.log"; ko broken_copy_refused; fi
if [ $fail = 0 ]; then echo "[  PASSED  ] $pass test(s)."; exit 0; fi
echo "[  FAILED  ] $fail test(s)."; exit 1
