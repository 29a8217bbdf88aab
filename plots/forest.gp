# forest.gp - every claim's primary paired difference (A - B, rank-1 points) with its interval
# (95 % for directional rules, 90 % for equivalence and non-inferiority) and the margin it is
# judged against (+- the smallest effect of interest, or +- delta), from D/forest.tsv (written by
# dcqbench report, the verdict table's rows plus the controls). Vars: n (rows).
load "plots/common.gp"
set title "Paired differences with their intervals (rank-1 at the largest distractor size)"
set xlabel "A - B (percentage points)"
set ytics nomirror noenhanced
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [-1:n]
set grid x
set key top right box opaque
set xzeroaxis
set arrow from 0, graph 0 to 0, graph 1 nohead lw 1.5 lc rgb "#404040"
set lmargin 38
plot sprintf("%s/forest.tsv", D) using 4:1:5:6:ytic(2) with xerrorbars ls 1 title "mean [CI]", \
     "" using (-$7):1 with points pt 1 ps 1.5 lc rgb "#d62728" title "margin", \
     "" using ($7):1 with points pt 1 ps 1.5 lc rgb "#d62728" notitle
