# roc.gp - MegaFace verification ROC at the largest distractor set: TAR vs FAR (log x), mean over
# seeds on a fixed FAR grid (report.c derived_roc). Vars: heads, split.
load "plots/common.gp"
set logscale x
set format x "10^{%L}"
set xlabel "false accept rate"
set ylabel "true accept rate (%)"
set title sprintf("ROC, largest distractor set, %s-like split", split)
set key bottom right
plot for [h in heads] sprintf("%s/roc_%s_%s.tsv", D, split, h) using 1:3 with lines ls hls(h) title h
