set terminal pngcairo size 900,500
set output 'sim-2026-12-07-152707.png'
set title "kvsim: what one request costs against cluster size (QUORUM, no faults)"
set logscale x
set xlabel 'nodes'
set ylabel 'sequential round trips per get'
set y2label 'peer RPCs per request'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key below
plot 'sim-2026-12-07-152707.dat' using 1:2 axes x1y1 with linespoints lw 2 title 'round trips/get p50', \
     'sim-2026-12-07-152707.dat' using 1:3 axes x1y1 with linespoints title 'round trips/get p99', \
     'sim-2026-12-07-152707.dat' using 1:4 axes x1y2 with linespoints lw 2 title 'RPCs/get p50', \
     'sim-2026-12-07-152707.dat' using 1:5 axes x1y2 with linespoints title 'RPCs/get p99', \
     'sim-2026-12-07-152707.dat' using 1:6 axes x1y2 with linespoints title 'RPCs/put p50'
