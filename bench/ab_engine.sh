#!/usr/bin/env bash
# A/B of two troupe builds on the engine bench: runs `bench_engine --no-llama --reps 2` of each
# build in turn, N times (so both see the same machine, whose read bandwidth flips between a
# low and a high phase every half minute or so), and prints, per build, type and bandwidth
# phase, the median share of the bound over all decode rounds.
#   bench/ab_engine.sh N path/to/bench_engine_A path/to/bench_engine_B [bench_engine args...]
# A round counts as high phase when its bandwidth is above 45 GB/s (this machine's two phases:
# ~31-37 and ~55-64 GB/s); elsewhere set AB_PHASE_GBS.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 N bench_engine_A bench_engine_B [bench_engine args...]" >&2
  exit 2
fi
n=$1 a=$2 b=$3
shift 3
split=${AB_PHASE_GBS:-45}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((i = 0; i < n; ++i)); do
  for label in A B; do
    bin=$a
    [[ $label == B ]] && bin=$b
    # "  q8_0  troupe:    77.7 tok/s at 34.0 GB/s = 88%, ..." -> "A q8_0 34.0 88" per round
    "$bin" --no-llama --reps 2 "$@" | awk -v l="$label" '/ troupe: / {
      for (i = 1; i <= NF; ++i) if ($i == "at") { gbs = $(i + 1); pct = $(i + 4); sub(/[%,]+$/, "", pct); print l, $1, gbs, pct }
    }' >>"$out"
  done
done
echo "build type  phase  rounds  median share of the bound (each round)"
sort -k1,1 -k2,2 "$out" | awk -v s="$split" '
  { key = $1 " " $2 " " ($3 > s ? "high" : "low"); v[key] = v[key] " " $4; c[key]++ }
  END {
    for (k in v) {
      m = split(substr(v[k], 2), x, " ");
      for (i = 1; i <= m; ++i) for (j = i + 1; j <= m; ++j) if (x[j] + 0 < x[i] + 0) { t = x[i]; x[i] = x[j]; x[j] = t }
      med = m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2;
      list = ""; for (i = 1; i <= m; ++i) list = list " " x[i];
      printf "%s  %6d  %5.1f%%  (%s)\n", k, c[k], med, substr(list, 2)
    }
  }' | sort
