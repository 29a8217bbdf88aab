# loss.gp - training loss vs step, one line per head (seed 1 = the lowest seed run).
# Data: D/curve_<split>_<head>.tsv (step loss lr samples_per_s). Vars: heads, split.
load "plots/common.gp"
set xlabel "training step"
set ylabel "training loss (nats)"
set title sprintf("Training loss, %s-like split (lowest seed)", split)
set key top right
plot for [h in heads] sprintf("%s/curve_%s_%s.tsv", D, split, h) \
     using "step":"loss" with lines ls hls(h) title h
