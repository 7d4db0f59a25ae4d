#!/usr/bin/env bash
# Runs the benchmarks of docs/benchmarks.md and writes every report (JSON) and the tables built from them
# (Markdown, by jq: no figure is typed by hand) to $OUT. Release builds of server and bench, one machine.
#
#   bench/run-benchmarks.sh                        # everything, into bench/results/<UTC time>
#   MODELS=/tmp/models LABEL=batching-on bench/run-benchmarks.sh   # reuse a repository whose config.json you edited
#
# Settings (environment): OUT, MODELS, LABEL, DURATION (per level, 10s), WARMUP (2s), RAW_DURATION (5s), RAW_BATCHES (1,8,32),
# MEMORY_DURATION (120s), CONCURRENCY (1,8,32,128), HTTP_PORT (18000), GRPC_PORT (18001), MAX_OTHER_LOAD (10 %),
# QUIET_WAIT (60: seconds to wait for quiet CPUs before each run).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
LABEL=${LABEL:-batching-off}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
RAW_DURATION=${RAW_DURATION:-5s}
RAW_BATCHES=${RAW_BATCHES:-1,8,32}
MEMORY_DURATION=${MEMORY_DURATION:-120s}
CONCURRENCY=${CONCURRENCY:-1,8,32,128}
HTTP_PORT=${HTTP_PORT:-18000}
GRPC_PORT=${GRPC_PORT:-18001}
read -r -a MODEL_NAMES <<< "${MODEL_NAMES:-bench_small bench_wide bench_heavy}"
PROTOCOLS=(rest-json rest-binary grpc)
QUIVER=src/Quiver.Cli/bin/Release/net10.0/quiver

mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/log.txt" >&2; }
printf '| run | attempt | CPU used by other processes %% |\n|---|---:|---:|\n' > "$OUT/other-load.md"
dotnet build -c Release src/Quiver.Cli -v quiet -nologo
if [[ -z "${MODELS:-}" ]]; then
  MODELS=$OUT/models
  "$QUIVER" bench models --output "$MODELS"
fi

# Other work on a shared box skews every figure. Before each run: wait (up to a minute) for the CPUs to be
# quiet. After it: the CPU time used by processes other than the server and the bench, as a share of both
# cores; above $MAX_OTHER_LOAD % the run is repeated (up to 3 attempts, the last one kept). All of it is logged.
MAX_OTHER_LOAD=${MAX_OTHER_LOAD:-10}
HZ=$(getconf CLK_TCK)
CORES=$(nproc)
SERVER=
busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
server_jiffies() { if [[ -n $SERVER ]]; then awk '{print $14+$15}' "/proc/$SERVER/stat"; else echo 0; fi; }

wait_quiet() {
  local busy=0
  for _ in $(seq "${QUIET_WAIT:-60}"); do
    local b1 t1 b2 t2
    b1=$(busy_jiffies); t1=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat); sleep 1
    b2=$(busy_jiffies); t2=$(awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    busy=$(( 100 * (b2 - b1) / (t2 - t1 + 1) ))
    (( busy < 10 )) && break
  done
  log "CPU busy before the run: ${busy}%"
}

# measured ATTEMPTS NAME OUTPUT-FILE COMMAND...: runs the bench command, retrying while other processes loaded the CPUs.
measured() {
  local attempts=$1 name=$2 file=$3 other
  shift 3
  for attempt in $(seq "$attempts"); do
    wait_quiet
    local b0 s0 start cpu
    b0=$(busy_jiffies); s0=$(server_jiffies); start=$(date +%s.%N)
    TIMEFORMAT='%U %S'
    cpu=$( { time "$@" > "$file" 2>> "$OUT/bench-stderr.txt"; } 2>&1 )
    other=$(awk -v b="$(( $(busy_jiffies) - b0 ))" -v s="$(( $(server_jiffies) - s0 ))" -v c="$cpu" -v hz="$HZ" \
      -v wall="$(echo "$(date +%s.%N) - $start" | bc)" -v cores="$CORES" \
      'BEGIN { split(c, t, " "); o = (b - s) / hz - t[1] - t[2]; if (o < 0) o = 0; printf "%.1f", 100 * o / (wall * cores) }')
    log "$name (attempt $attempt): other processes used ${other}% of the CPUs"
    echo "| $name | $attempt | $other |" >> "$OUT/other-load.md"
    if awk -v o="$other" -v m="$MAX_OTHER_LOAD" 'BEGIN { exit !(o <= m) }'; then
      return
    fi
  done
}

# Raw, in-process: the limit. One and two intra-op threads (the server gives its one instance both cores).
for model in "${MODEL_NAMES[@]}"; do
  for threads in 1 2; do
    measured 3 "raw $model threads $threads" "$OUT/raw-$model-t$threads.json" \
      "$QUIVER" bench raw --model-file "$MODELS/$model/1/model.onnx" --batch "$RAW_BATCHES" --threads "$threads" \
      --duration "$RAW_DURATION" --json
  done
done

"$QUIVER" serve --model-repository "$MODELS" --http-port "$HTTP_PORT" --grpc-port "$GRPC_PORT" > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$HTTP_PORT/v2/health/ready" > /dev/null; do sleep 0.2; done
for model in "${MODEL_NAMES[@]}"; do
  until curl -sf "http://127.0.0.1:$HTTP_PORT/v2/models/$model/ready" > /dev/null; do sleep 0.2; done
done
grep VmRSS "/proc/$SERVER/status" | awk '{print $2}' > "$OUT/rss-after-start-kb.txt"
log "server pid $SERVER, VmRSS after start $(cat "$OUT/rss-after-start-kb.txt") kB"

# Memory first, on a fresh server: resident memory after warm-up and after a long run at concurrency 32, twice
# in a row, so a second window shows whether growth in the first one goes on or levels off.
# One attempt only: a repeat would no longer start from a fresh server.
measured 1 "memory: bench_small rest-json concurrency 32 for 2 × $MEMORY_DURATION" "$OUT/memory-bench_small-rest-json.json" \
  "$QUIVER" bench run --url "http://127.0.0.1:$HTTP_PORT" --model bench_small --protocol rest-json --concurrency 32,32 \
  --duration "$MEMORY_DURATION" --warmup "$WARMUP" --server-pid "$SERVER" --json

for model in "${MODEL_NAMES[@]}"; do
  for protocol in "${PROTOCOLS[@]}"; do
    measured 3 "run $model $protocol" "$OUT/run-$model-$protocol.json" \
      "$QUIVER" bench run --url "http://127.0.0.1:$HTTP_PORT" --grpc-url "http://127.0.0.1:$GRPC_PORT" --model "$model" \
      --protocol "$protocol" --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" \
      --server-pid "$SERVER" --json
  done
done

# Tables, straight from the JSON reports.
{
  echo "### Raw in-process ($LABEL)"
  echo
  echo "| model | threads | batch | inferences/s | p50 µs | p99 µs |"
  echo "|---|---:|---:|---:|---:|---:|"
  for model in "${MODEL_NAMES[@]}"; do
    for threads in 1 2; do
      jq -r --arg m "$model" '.threads as $t | .results[] |
        "| \($m) | \($t) | \(.batch_size) | \(.inferences_per_s | round) | \(.latency_us.p50 * 10 | round / 10) | \(.latency_us.p99 * 10 | round / 10) |"' \
        "$OUT/raw-$model-t$threads.json"
    done
  done
  for model in "${MODEL_NAMES[@]}"; do
    echo
    echo "### Server: $model ($LABEL)"
    echo
    echo "| protocol | concurrency | inferences/s | p50 µs | p90 µs | p99 µs | errors | queue µs | input µs | infer µs | output µs | avg batch |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for protocol in "${PROTOCOLS[@]}"; do
      jq -r '.protocol as $p | .levels[] |
        def r: . * 10 | round / 10;
        "| \($p) | \(.concurrency) | \(.inferences_per_s | round) | \(.latency_us.p50 | r) | \(.latency_us.p90 | r) | \(.latency_us.p99 | r) | \(.errors) | \(.server.queue_us | r) | \(.server.compute_input_us | r) | \(.server.compute_infer_us | r) | \(.server.compute_output_us | r) | \(.server.avg_batch_size * 100 | round / 100) |"' \
        "$OUT/run-$model-$protocol.json"
    done
  done
  echo
  echo "### Server resident memory ($LABEL)"
  echo
  echo "| moment | VmRSS MiB |"
  echo "|---|---:|"
  jq -r --argjson start "$(cat "$OUT/rss-after-start-kb.txt")" '
    def mib: . / 1024 * 10 | round / 10;
    def growth: ((.after - .before) * 1000 / .before | round) / 10;
    "| after start, models loaded, no request yet | \($start | mib) |",
    (.warmup_s as $w | .levels | to_entries[] | .key as $i | .value as $l |
      "| window \($i + 1): after \($w) s warm-up at concurrency \($l.concurrency) | \($l.server_rss_kb.before | mib) |",
      "| window \($i + 1): after \($l.elapsed_s | round) s more (\($l.requests) requests, \($l.errors) errors, \($l.inferences_per_s | round) inferences/s) | \($l.server_rss_kb.after | mib) (\($l.server_rss_kb | growth) %) |")' \
    "$OUT/memory-bench_small-rest-json.json"
} > "$OUT/tables.md"

# The targets, computed from the same reports.
raw_p50() { jq --argjson b "$2" '.results[] | select(.batch_size == $b) | .latency_us.p50' "$OUT/raw-$1-t1.json"; }
level() { jq --argjson c "$3" ".levels[] | select(.concurrency == \$c) | $4" "$OUT/run-$1-$2.json"; }
{
  echo "### Targets ($LABEL), computed"
  echo
  echo "| target | measured | met |"
  echo "|---|---:|---|"
  raw=$(raw_p50 bench_small 1)
  for protocol in rest-json grpc; do
    limit=$([[ $protocol == rest-json ]] && echo 100 || echo 70)
    p50=$(level bench_small "$protocol" 1 .latency_us.p50)
    jq -rn --argjson p "$p50" --argjson r "$raw" --argjson l "$limit" --arg proto "$protocol" \
      '($p - $r) as $o | "| bench_small \($proto), concurrency 1: server p50 − raw p50 ≤ \($l) µs | \($p * 10 | round / 10) − \($r * 10 | round / 10) = \($o * 10 | round / 10) µs | \(if $o <= $l then "yes" else "no" end) |"'
  done
  rps=$(level bench_small rest-json 32 .inferences_per_s)
  if [[ -n $rps ]]; then
    jq -rn --argjson v "$rps" '"| bench_small rest-json, concurrency 32: ≥ 40,000 inferences/s | \($v | round) | \(if $v >= 40000 then "yes" else "no" end) |"'
  fi
  for protocol in "${PROTOCOLS[@]}"; do
    heavy=$(level bench_heavy "$protocol" 32 .inferences_per_s)
    [[ -n $heavy ]] || continue
    batch=$(level bench_heavy "$protocol" 32 .server.avg_batch_size)
    # Compare with raw at the measured batch size nearest to the server's average batch.
    raw_batch=$(jq -n --argjson x "$batch" "[$RAW_BATCHES] | min_by((. - \$x) | fabs)")
    best_raw=$(jq -s --argjson b "$raw_batch" '[.[].results[] | select(.batch_size == $b) | .inferences_per_s] | max' \
      "$OUT/raw-bench_heavy-t1.json" "$OUT/raw-bench_heavy-t2.json")
    jq -rn --argjson v "$heavy" --argjson r "$best_raw" --argjson b "$batch" --argjson rb "$raw_batch" --arg lbl "$LABEL" --arg proto "$protocol" \
      '"| bench_heavy \($proto), concurrency 32, batching on: ≥ 90 % of raw at the average batch size | \($v | round) / \($r | round) (raw at batch \($rb), best of 1 and 2 threads) = \(($v * 1000 / $r | round) / 10) % at average batch \($b * 100 | round / 100) | \(if $lbl == "batching-off" then "not measurable yet: no batcher" elif $v >= 0.9 * $r then "yes" else "no" end) |"'
  done
  start=$(cat "$OUT/rss-after-start-kb.txt")
  jq -rn --argjson s "$start" '"| resident memory after start ≤ 200 MB | \($s / 1024 * 10 | round / 10) MiB | \(if $s * 1024 <= 200000000 then "yes" else "no" end) |"'
  jq -r '.levels | to_entries[] | .key as $i | .value as $l | (($l.server_rss_kb.after - $l.server_rss_kb.before) * 100 / $l.server_rss_kb.before) as $g |
    "| no growth > 5 % over a \($l.elapsed_s | round) s run at concurrency 32 (bench_small rest-json), \(if $i == 0 then "first window, fresh server" else "window \($i + 1), same server" end) | \($l.server_rss_kb.before / 1024 * 10 | round / 10) → \($l.server_rss_kb.after / 1024 * 10 | round / 10) MiB, \($g * 10 | round / 10) % | \(if $g <= 5 then "yes" else "no" end) |"' \
    "$OUT/memory-bench_small-rest-json.json"
} > "$OUT/targets.md"

log "done: $OUT/tables.md and $OUT/targets.md"
