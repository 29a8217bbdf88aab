# rank1_size.gp - MegaFace rank-1 vs number of distractors (log x) per head, mean +- std over
# seeds of the runs' eval/rank1_vs_size.tsv. Vars: heads (space-separated), split.
load "plots/common.gp"
set logscale x
set format x "10^{%L}"
set xlabel "distractors"
set ylabel "MegaFace rank-1 identification rate (%)"
set title sprintf("Rank-1 vs distractor set size, %s-like split", split)
set key bottom left
plot for [h in heads] sprintf("%s/rank1_vs_size_%s_%s.tsv", D, split, h) \
     using 1:3:4 with yerrorlines ls hls(h) title h
