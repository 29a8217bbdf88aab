# scale.gp - the scale ladder: DCQ 10 % minus the full softmax in MegaFace rank-1 (points) with
# its 95 % t interval, paired by seed, against the identities of the split (log x), one line per
# split, from D/scale.tsv (report_scale.c). The zero line is "no gain". Vars: splits.
load "plots/common.gp"
set title "DCQ - full rank-1 gap against the number of identities (95 % CI)"
set logscale x
# the rungs with a margin, not whole decades (a log axis autoscales a 5000 rung to 1000)
stats sprintf("%s/scale.tsv", D) using 2 nooutput
set xrange [STATS_min / 1.5 : STATS_max * 1.5]
set xlabel "identities"
set ylabel "rank-1 gap dcq - full (points)"
set key top right
set xzeroaxis lw 1.5 lc rgb "#404040"
set offsets 0, 0, graph 0.05, graph 0.05
plot for [i=1:words(splits)] sprintf("%s/scale.tsv", D) \
     using 2:(strcol(1) eq word(splits, i) ? $4 : NaN):5:6 with yerrorlines ls i \
     title word(splits, i)."-like"
