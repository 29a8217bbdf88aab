# drift.gp - DCQ's queue drift: the mean cosine between a queued key and the same image's key
# under the current EMA network (1 = as fresh as a key computed now). Left: the last measurement
# of each run against mu, shown as the EMA's window 1/(1 - mu) in steps (log x), mean +- std over
# seeds, one line per split (D/drift_<split>.tsv). Right: drift over training steps from the
# runs' curve.tsv, one line per mu (D/drift_curve_<split>_<mu>.tsv). Files: report_derived.c.
# Vars: splits (the splits with a drift_<split>.tsv), curves (curve files), labels (their mu).
load "plots/common.gp"
set multiplot layout 1,2 title "DCQ queue drift (mean cosine, queued key vs the current EMA key)"
set ylabel "queue drift (cosine)"
set offsets graph 0.05, graph 0.05, graph 0.08, graph 0.08
set logscale x
set xlabel "EMA window 1/(1 - mu) (steps)"
set key bottom left
plot for [i=1:words(splits)] sprintf("%s/drift_%s.tsv", D, word(splits, i)) \
     using (1/(1-$1)):3:4 with yerrorlines ls i title word(splits, i)."-like"
unset logscale x
set xlabel "training step"
set key bottom right
plot for [i=1:words(curves)] word(curves, i) using 1:3:4 with yerrorlines ls i \
     title "mu ".word(labels, i)
unset multiplot
