# ratio.gp - Table 1 as a figure: metric vs L/C per partial head (log x), with the full-softmax
# band (mean +- std over seeds). Data: D/t1_ratio.tsv, D/t1_full_band.tsv (report_derived.c).
# Vars: heads (the partial heads of t1_ratio.tsv's first column; make_plots.sh reads them).
load "plots/common.gp"
set multiplot layout 1,2 title "Ratio study, balanced ms1m-like split (mean ± std over seeds)"
set logscale x
set xlabel "classes in the head per step, L/C (%)"
set format x "%g"
set xrange [0.5:100]
set key outside bottom center horizontal maxcols 3 samplen 2
set bmargin 6 + words(heads)  # room for the key: two band entries and one per head
do for [panel=0:1] {
  col = panel == 0 ? 4 : 6
  bcol = panel == 0 ? 2 : 5
  set ylabel (panel == 0 ? "MegaFace rank-1, largest distractor set (%)" : "TAR at FAR 1e-4 (%)")
  plot D."/t1_full_band.tsv" using 1:(column(bcol+1)):(column(bcol+2)) with filledcurves \
         fc rgb "#1f77b4" fs transparent solid 0.18 noborder title "full softmax ± std", \
       D."/t1_full_band.tsv" using 1:(column(bcol)) with lines ls 1 dt 2 title "full softmax", \
       for [h in heads] D."/t1_ratio.tsv" \
         using 2:(strcol(1) eq h ? column(col) : NaN):(strcol(1) eq h ? column(col+1) : NaN) \
         with yerrorlines ls hls(h) title h
}
unset multiplot
