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
set style line 5 lc rgb "#9467bd" lw 2.5 pt 13 ps 1.2
set style line 6 lc rgb "#8c564b" lw 2.5 pt 15 ps 1.2
set style line 7 lc rgb "#e377c2" lw 2.5 pt 4 ps 1.2
set style line 8 lc rgb "#7f7f7f" lw 2.5 pt 6 ps 1.2
# Line style of a head: its place in allheads (every head in table order, from the report's
# derived/heads.tsv, passed by make_plots.sh), so a head keeps its colour in every figure. A head
# not in allheads gets style 8.
if (!exists("allheads")) allheads = ""
hpos(h) = strstrt(" ".allheads." ", " ".h." ")
hls(h) = hpos(h) == 0 ? 8 : (words(substr(" ".allheads." ", 1, hpos(h))) % 8) + 1
