# common.gp - shared settings for every figure: the caller passes term (a full 'set terminal'
# argument), out (the output file) and D (the derived/ folder) with gnuplot -e.
eval sprintf("set terminal %s", term)
set output out
set datafile separator "\t"
set datafile missing "NA"
set datafile columnheaders
set key top left box opaque
set grid lw 0.5 lc rgb "#d0d0d0"
set border lw 1.2
set style line 1 lc rgb "#1f77b4" lw 2.5 pt 7 ps 1.2
set style line 2 lc rgb "#ff7f0e" lw 2.5 pt 5 ps 1.2
set style line 3 lc rgb "#2ca02c" lw 2.5 pt 9 ps 1.2
set style line 4 lc rgb "#d62728" lw 2.5 pt 11 ps 1.2
# line style of a head name, so a head keeps its colour in every figure
hls(h) = h eq "full" ? 1 : h eq "random" ? 2 : h eq "sampled" ? 3 : 4
