#!/usr/bin/env bash
# Puts the headline figures of several run-benchmarks.sh outputs side by side, to show how much they move
# from run to run:  bench/compare-runs.sh bench/results/A bench/results/B ...
set -euo pipefail

row() {
  local title=$1 file=$2 filter=$3
  printf '| %s |' "$title"
  for dir in "${DIRS[@]}"; do
    printf ' %s |' "$(jq -r "$filter" "$dir/$file" 2>/dev/null || echo n/a)"
  done
  printf '\n'
}

DIRS=("$@")
printf '| figure |'; for dir in "${DIRS[@]}"; do printf ' %s |' "$(basename "$dir")"; done; printf '\n'
printf '|---|'; for _ in "${DIRS[@]}"; do printf -- '---:|'; done; printf '\n'
level() { echo ".levels[] | select(.concurrency == $1) | $2"; }
r1='* 10 | round / 10'
row "raw bench_small, batch 1, 1 thread: p50 µs" raw-bench_small-t1.json ".results[] | select(.batch_size == 1) | .latency_us.p50 $r1"
row "raw bench_heavy, batch 1, 2 threads: inferences/s" raw-bench_heavy-t2.json '.results[] | select(.batch_size == 1) | .inferences_per_s | round'
for protocol in rest-json rest-binary grpc; do
  row "bench_small $protocol, concurrency 1: p50 µs" "run-bench_small-$protocol.json" "$(level 1 ".latency_us.p50 $r1")"
done
for protocol in rest-json rest-binary grpc; do
  row "bench_small $protocol, concurrency 32: inferences/s" "run-bench_small-$protocol.json" "$(level 32 '.inferences_per_s | round')"
done
for protocol in rest-json rest-binary grpc; do
  row "bench_heavy $protocol, concurrency 32: inferences/s" "run-bench_heavy-$protocol.json" "$(level 32 '.inferences_per_s | round')"
done
row "server VmRSS after start, MiB" rss-after-start-kb.txt ". / 1024 $r1"
row "memory run, first window: VmRSS growth %" memory-bench_small-rest-json.json \
  ".levels[0].server_rss_kb | (.after - .before) * 100 / .before $r1"
