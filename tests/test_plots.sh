#!/bin/sh
# test_plots.sh - plots/make_plots.sh, the path `make scale` and `make plots` take from runs.tsv
# to REPORT.md and figures, on a toy scale ladder trained here (8 runs of 20 steps, seconds):
#   - `make_plots.sh scale` renders the ladder figure (results/figures/scale_scale.{png,svg}),
#     the report's summary line counts the rungs' verdicts, and REPORT.md links the figure and
#     has one gap row per rung, with both heads' seeds;
#   - a ladder without full-softmax runs has no gap to draw: the figure is skipped, not failed;
#   - a sweep name with no runs.tsv is an error naming it.
# Prints cmocka-style PASSED/FAILED lines for tests/run.sh.
set -u
BIN=${DCQBENCH:-bin/dcqbench}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "[       OK ] $1"; }
ko() { fail=$((fail + 1)); echo "[  FAILED  ] $1"; }
done_() {
    if [ $fail = 0 ]; then echo "[  PASSED  ] $pass test(s)."; exit 0; fi
    echo "[  FAILED  ] $fail test(s)."; exit 1
}
if ! command -v gnuplot >/dev/null 2>&1; then echo "SKIP test_plots: no gnuplot"; exit 0; fi

# the ladder's shape (sweeps/scale.conf) at toy size: dcq 10 % and full, the common loss, EMA
cat > "$T/scale.conf" <<'C'
[sweep]
name = scale
jobs = 1
[base]
seed = 1, 2
batch = 32
steps = 20
threads = 1
margin = cosface
s = 50
m = 0.3
ema = 1
mu = 0.99
eval.net = ema
distractors = 1000
eval.distractors = 1000
[head.full.ms1m]
profile = ms1m
ids = 400, 800
[head.dcq.ms1m]
profile = ms1m
ids = 400, 800
ratio = 0.1
C
if ! "$BIN" sweep "$T/scale.conf" --results "$T/r" >"$T/sweep.log" 2>&1; then
    cat "$T/sweep.log"; ko toy_ladder_trains; done_
fi
ok toy_ladder_trains

RESULTS="$T/r" sh plots/make_plots.sh scale >"$T/plots.log" 2>&1; rc=$?
S="$T/r/scale"
if [ $rc = 0 ] && [ -s "$T/r/figures/scale_scale.png" ] && [ -s "$T/r/figures/scale_scale.svg" ] &&
   grep -q "^report: scale ladder: 2 rungs: " "$T/plots.log"
then ok scale_figure
else cat "$T/plots.log"; ko scale_figure; fi
# one row per rung, 2 dcq and 2 full seeds each, and the link to the figure
if grep -q '^| ms1m | 400 | 2 | 2 | ' "$S/REPORT.md" && grep -q '^| ms1m | 800 | 2 | 2 | ' "$S/REPORT.md" &&
   grep -q '(../figures/scale_scale.png)' "$S/REPORT.md" &&
   [ "$(awk -F '\t' 'NR > 1 && $4 != "NA"' "$S/derived/scale.tsv" | wc -l)" = 2 ]
then ok ladder_table
else grep -A8 '^## Scale ladder' "$S/REPORT.md"; cat "$S/derived/scale.tsv"; ko ladder_table; fi

# the same ladder with the full-softmax rows taken out: no gap anywhere, nothing to draw
mkdir -p "$T/nofull/scale"
awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "head") h = i; print; next }
             $h != "full"' "$S/runs.tsv" > "$T/nofull/scale/runs.tsv"
RESULTS="$T/nofull" sh plots/make_plots.sh scale >"$T/nofull.log" 2>&1; rc=$?
if [ $rc = 0 ] && grep -q 'skip scale_scale: no DCQ - full gap' "$T/nofull.log" &&
   [ ! -e "$T/nofull/figures/scale_scale.png" ]
then ok no_gap_is_skipped
else cat "$T/nofull.log"; ko no_gap_is_skipped; fi

if RESULTS="$T/r" sh plots/make_plots.sh nosuch >"$T/none.log" 2>&1; then
    cat "$T/none.log"; ko unknown_sweep_fails
elif grep -q "no runs.tsv for nosuch" "$T/none.log"; then ok unknown_sweep_fails
else cat "$T/none.log"; ko unknown_sweep_fails; fi
done_
