#!/bin/sh
# make_plots.sh - every figure from results alone (never trains). For each results/<sweep>/ with
# a runs.tsv whose name is reproduce_<profile> (or scale*, the scale ladder's sweep), runs
# `dcqbench report` (REPORT.md beside the runs, derived TSVs in results/<sweep>/derived/), then
# gnuplot: PNG + SVG (+ PDF for papers, when gnuplot has pdfcairo) into results/figures/ as
# <profile>_<figure>.{png,svg,pdf}, where REPORT.md's image links point. A figure whose data is
# missing is skipped with a message. Exits 0 only when every figure that had data was produced.
# Arguments: sweep names to limit it to (make scale: `make_plots.sh scale`); none: every sweep.
# Environment: RESULTS (results), PLOTS (results/figures), DCQBENCH (bin/dcqbench), GNUPLOT.
set -u
R=${RESULTS:-results}
P=${PLOTS:-$R/figures}
BIN=${DCQBENCH:-bin/dcqbench}
GP=${GNUPLOT:-gnuplot}
HERE=$(dirname "$0")
cd "$HERE/.." || exit 2   # the .gp files load plots/common.gp relative to the repo root
mkdir -p "$P"

if ! command -v "$GP" >/dev/null 2>&1; then
    echo "make_plots: gnuplot not found (apt-get install gnuplot-nox)"; exit 1
fi
if "$GP" -e 'set terminal' 2>&1 | grep -q pngcairo; then
    PNG="pngcairo size 1200,800 font ',14' enhanced"
else
    echo "make_plots: no pngcairo terminal, falling back to png"
    PNG="png size 1200,800 font 'sans,14' enhanced"
fi
SVG="svg size 1200,800 font 'sans,14' enhanced"
if "$GP" -e 'set terminal' 2>&1 | grep -q pdfcairo; then
    PDF="pdfcairo size 9in,6in font 'sans,10' enhanced"; kinds="png svg pdf"
else
    echo "make_plots: gnuplot has no pdfcairo terminal: no PDF figures (install gnuplot-qt)"
    PDF=""; kinds="png svg"
fi
made=0; failed=0; skipped=0

# fig NAME SCRIPT VARS: render SCRIPT to $P/NAME.png and .svg with the gnuplot -e VARS
fig() {
    name=$1; script=$2; vars=$3
    ok=1
    for t in $kinds; do
        case $t in png) term=$PNG ;; svg) term=$SVG ;; *) term=$PDF ;; esac
        if ! "$GP" -e "term=\"$term\"; out='$P/$name.$t'; $vars" "plots/$script" 2>"$P/.$name.err"; then
            ok=0
        fi
    done
    if [ $ok = 1 ]; then
        made=$((made + 1)); rm -f "$P/.$name.err"
    else
        failed=$((failed + 1)); echo "make_plots: FAILED $name (see $P/.$name.err)"
    fi
}
skip() { skipped=$((skipped + 1)); echo "make_plots: skip $1: $2"; }
# rows FILE: data rows (not the header), 0 when the file is missing
rows() { if [ -f "$1" ]; then echo $(( $(wc -l < "$1") - 1 )); else echo 0; fi; }
# The heads come from the data, never from a list here: derived/heads.tsv holds every head the
# report knows in table order ($allheads, also the colour order of common.gp), a TSV's header or
# first column the heads it has.
# any_acc FILE: a tail TSV with at least one number in a <head>_acc_mean column
any_acc() {
    awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /_acc_mean$/) c[i] = 1; next }
                  { for (i in c) if ($i != "NA") found = 1 } END { exit !found }' "$1"
}
# heads_with PATTERN: the heads (in table order) whose file PATTERN (with %h) has data rows
heads_with() {
    hs=""
    for h in $allheads; do
        f=$(printf '%s' "$1" | sed "s/%h/$h/")
        [ "$(rows "$f")" -gt 0 ] && hs="$hs $h"
    done
    echo $hs
}

# wanted SWEEP: no arguments, or SWEEP is one of them
wanted() {
    [ -z "$only" ] && return 0
    for w in $only; do [ "$w" = "$1" ] && return 0; done
    return 1
}
only="$*"
found=0
for runs in "$R"/reproduce_*/runs.tsv "$R"/scale*/runs.tsv; do
    [ -f "$runs" ] || continue
    sw=$(basename "$(dirname "$runs")"); prof=${sw#reproduce_}
    wanted "$sw" || continue
    found=1
    D="$R/$sw/derived"
    echo "make_plots: $sw"
    if ! "$BIN" report --sweep "$sw" --profile "$prof" --results "$R" --out "$R/$sw/REPORT.md"; then
        echo "make_plots: report failed for $sw"; failed=$((failed + 1)); continue
    fi
    allheads=""
    [ -f "$D/heads.tsv" ] && allheads=$(tail -n +2 "$D/heads.tsv" | cut -f1 | tr '\n' ' ')
    V="D='$D'; allheads='$allheads'"
    if [ "$(rows "$D/t1_ratio.tsv")" -gt 0 ] && [ "$(rows "$D/t1_full_band.tsv")" -gt 0 ]; then
        hs=$(tail -n +2 "$D/t1_ratio.tsv" | cut -f1 | awk '!seen[$0]++' | tr '\n' ' ')
        fig "${prof}_acc_vs_ratio" ratio.gp "$V; heads='$hs'"
    else skip "${prof}_acc_vs_ratio" "no ms1m ratio runs (t1_ratio.tsv / t1_full_band.tsv)"; fi
    for sp in mf2 ms1m; do
        for kind in rank1_size:rank1_vs_size roc:roc cmc:cmc loss:curve; do
            gpn=${kind%%:*}; pre=${kind#*:}
            hs=$(heads_with "$D/${pre}_${sp}_%h.tsv")
            if [ -n "$hs" ]; then fig "${prof}_${gpn}_${sp}" "$gpn.gp" "$V; split='$sp'; heads='$hs'"
            else skip "${prof}_${gpn}_${sp}" "no $D/${pre}_${sp}_<head>.tsv"; fi
        done
        if [ "$(rows "$D/tail_$sp.tsv")" -gt 0 ] && any_acc "$D/tail_$sp.tsv"; then
            hs=$(head -n 1 "$D/tail_$sp.tsv" | tr '\t' '\n' | sed -n 's/_acc_mean$//p' | tr '\n' ' ')
            fig "${prof}_tail_$sp" tail.gp "$V; split='$sp'; heads='$hs'"
        else skip "${prof}_tail_$sp" "no accuracy in $D/tail_$sp.tsv"; fi
    done
    if [ "$(rows "$D/forest.tsv")" -gt 0 ]; then
        fig "${prof}_forest" forest.gp "$V; n=$(rows "$D/forest.tsv")"
    else skip "${prof}_forest" "no comparison with two paired seeds ($D/forest.tsv)"; fi
    hs=$(heads_with "$D/cost_%h.tsv")
    if [ -n "$hs" ]; then fig "${prof}_cost_vs_classes" cost.gp "$V; heads='$hs'"
    else skip "${prof}_cost_vs_classes" "no bench results (run make bench)"; fi
    # class-size histograms of the splits the runs used (ids from derived/splits.tsv)
    files=""; labels=""
    if [ -f "$D/splits.tsv" ]; then
        while IFS="$(printf '\t')" read -r p ids; do
            [ "$p" = profile ] && continue
            h="$D/hist_${p}_${ids}.tsv"
            if "$BIN" data describe --profile "$p" --ids "$ids" --hist "$h" >/dev/null; then
                files="$files $h"; labels="$labels ${p}-like:${ids}-ids"
            else
                echo "make_plots: data describe failed for $p $ids"; failed=$((failed + 1))
            fi
        done < "$D/splits.tsv"
    fi
    if [ -n "$files" ]; then fig "${prof}_class_sizes" hist.gp "$V; files='$files'; labels='$labels'"
    else skip "${prof}_class_sizes" "no splits in runs.tsv"; fi
    # queue drift: against mu per split, over steps per mu on the long-tail split (else ms1m)
    ds=""; for sp in ms1m mf2; do [ "$(rows "$D/drift_$sp.tsv")" -gt 0 ] && ds="$ds $sp"; done
    curves=""; labels=""
    for sp in mf2 ms1m; do
        for f in "$D"/drift_curve_"$sp"_*.tsv; do
            [ "$(rows "$f")" -gt 0 ] || continue
            mu=${f##*/drift_curve_"$sp"_}; curves="$curves $f"; labels="$labels ${mu%.tsv}"
        done
        [ -n "$curves" ] && break
    done
    if [ -n "$ds" ] && [ -n "$curves" ]; then
        fig "${prof}_drift" drift.gp "$V; splits='$ds'; curves='$curves'; labels='$labels'"
    else skip "${prof}_drift" "no dcq runs with a measured queue drift ($D/drift_<split>.tsv)"; fi
    # a split's line needs a gap at one rung at least (gap_mean, column 4, not NA)
    ss=""
    [ -f "$D/scale.tsv" ] && ss=$(awk -F '\t' 'NR > 1 && $4 != "NA" && !seen[$1]++ { print $1 }' \
                                   "$D/scale.tsv" | tr '\n' ' ')
    if [ -n "$ss" ]; then
        fig "${prof}_scale" scale.gp "$V; splits='$ss'"
    else skip "${prof}_scale" "no DCQ - full gap at several ids of a split (make scale)"; fi
done
if [ $found = 0 ]; then
    if [ -n "$only" ]; then echo "make_plots: no runs.tsv for $only in $R/"; exit 1; fi
    echo "make_plots: no $R/reproduce_*/runs.tsv (run make reproduce first)"
fi
echo "make_plots: $made figures ($kinds) in $P/, $skipped skipped for missing data, $failed failed"
[ $failed = 0 ]
