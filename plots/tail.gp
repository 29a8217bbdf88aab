# tail.gp - held-out accuracy against class means per training-class-size bucket, per head
# (mean +- std over seeds). Data: D/tail_<split>.tsv: idx bucket, then per head <head>_acc_mean
# <head>_acc_std <head>_cos_mean <head>_cos_std. Vars: split, heads (the heads of the file's
# header, in its order; make_plots.sh reads them from the header).
load "plots/common.gp"
set xlabel "training images per class"
set ylabel "held-out top-1 accuracy vs class means (%)"
set title sprintf("Accuracy by class-size bucket, %s-like split", split)
set xtics ("1-2" 0, "3-5" 1, "6-10" 2, "11-50" 3, "51+" 4)
set xrange [-0.4:4.4]
set key top left
nh = words(heads)
plot for [i=1:nh] sprintf("%s/tail_%s.tsv", D, split) \
     using ($1 + 0.06*(i - (nh + 1)/2.0)):(column(word(heads, i)."_acc_mean")) \
           :(column(word(heads, i)."_acc_std")) \
     with yerrorlines ls hls(word(heads, i)) title word(heads, i)
