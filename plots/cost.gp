# cost.gp - head cost vs number of classes (log-log) per head, from bench.tsv via
# D/cost_<head>.tsv (C step_ms mem_mb). Vars: heads.
load "plots/common.gp"
set multiplot layout 1,2 title "Head cost vs number of classes (bench.tsv: largest d measured, fewest threads, B = 256)"
set logscale xy
set format x "10^{%L}"
set xlabel "classes C"
set key top left
set ylabel "head step time (ms, median)"
plot for [h in heads] sprintf("%s/cost_%s.tsv", D, h) using 1:2 with linespoints ls hls(h) title h
set ylabel "head memory (MB)"
plot for [h in heads] sprintf("%s/cost_%s.tsv", D, h) using 1:3 with linespoints ls hls(h) title h
unset multiplot
