set terminal pngcairo size 900,500
set output 'soak-2026-12-07-235213.png'
set title "kvstore soak: 3 nodes, QUORUM, --rate 5000"
set xlabel 'seconds under load'
set ylabel 'RSS (MB)'
set y2label 'p99 (ms)'
set y2tics
set ytics nomirror
set yrange [0:*]
set y2range [0:*]
set key below
plot 'soak-2026-12-07-235213.dat' using 1:3 axes x1y1 with linespoints title 'node0 RSS (MB)', 'soak-2026-12-07-235213.dat' using 1:4 axes x1y1 with linespoints title 'node1 RSS (MB)', 'soak-2026-12-07-235213.dat' using 1:5 axes x1y1 with linespoints title 'node2 RSS (MB)', 'soak-2026-12-07-235213.dat' using 1:2 axes x1y2 with lines lw 2 title 'p99 (ms)'
