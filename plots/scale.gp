# scale.gp - the scale ladder: DCQ 10 % minus the full softmax in MegaFace rank-1 (points) with
# its 95 % t interval, paired by seed, against the identities of the split (log x), one line per
# split, from D/scale.tsv (report_scale.c). The zero line is "no gain". Vars: splits.
load "plots/common.gp"
set title "DCQ - full rank-1 gap against the number of identities (95 % CI)"
set logscale x
set xlabel "identities"
set ylabel "rank-1 gap dcq - full (points)"
set key top left
set xzeroaxis lw 1.5 lc rgb "#404040"
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05
plot for [i=1:words(splits)] sprintf("%s/scale.tsv", D) \
     using 2:(strcol(1) eq word(splits, i) ? $4 : NaN):5:6 with yerrorlines ls i \
     title word(splits, i)."-like"
