# hist.gp - class-size histograms of the training splits (log-log): identities per class size,
# from 'dcqbench data describe --hist'. Vars: files (space-separated), labels (same order).
load "plots/common.gp"
set logscale xy
set xlabel "images per class"
set ylabel "number of classes"
set title "Class-size distribution of the training splits"
set key top right
plot for [i=1:words(files)] word(files, i) using 1:2 with points ls i title word(labels, i)
