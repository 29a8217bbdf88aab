# tail.gp - held-out accuracy against class means per training-class-size bucket, per head
# (mean +- std over seeds). Data: D/tail_<split>.tsv: idx bucket, then per head acc_mean acc_std
# cos_mean cos_std in the order full random sampled dcq. Vars: split.
load "plots/common.gp"
set xlabel "training images per class"
set ylabel "held-out top-1 accuracy vs class means (%)"
set title sprintf("Accuracy by class-size bucket, %s-like split", split)
set xtics ("1-2" 0, "3-5" 1, "6-10" 2, "11-50" 3, "51+" 4)
set xrange [-0.4:4.4]
set key top left
names = "full random sampled dcq"
plot for [i=0:3] sprintf("%s/tail_%s.tsv", D, split) \
     using ($1 + 0.06*(i-1.5)):(column(3+4*i)):(column(4+4*i)) with yerrorlines \
     ls (i+1) title word(names, i+1)
