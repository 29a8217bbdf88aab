# cmc.gp - CMC at the largest distractor set: identification rate vs rank, mean +- std over
# seeds. Vars: heads, split.
load "plots/common.gp"
set xlabel "rank"
set ylabel "identification rate (%)"
set xtics 1
set title sprintf("CMC, largest distractor set, %s-like split", split)
set key bottom right
plot for [h in heads] sprintf("%s/cmc_%s_%s.tsv", D, split, h) \
     using 1:3:4 with yerrorlines ls hls(h) title h
