#!/bin/sh
# Prints the count, mean, min and max of the second column of a two-column file.
awk '{ n++; s += $2; if (n == 1 || $2 < lo) lo = $2; if (n == 1 || $2 > hi) hi = $2 }
     END { printf "rows: %d\nmean: %.3f\nmin: %d\nmax: %d\n", n, s / n, lo, hi }' "$1"
