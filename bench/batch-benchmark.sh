#!/usr/bin/env bash
# The batch benchmarks of docs/benchmarks.md (issue 9): `quiver batch run` on bench_wide over ROWS rows of .npy against
# raw in-process ONNX Runtime at the same batch size and threads; peak memory at ROWS / 10 and ROWS rows; online p99 at
# concurrency 8 with and without server-side batch jobs running. Writes every figure to $OUT/batch.md.
#
#   bench/batch-benchmark.sh
#
# Settings (environment): OUT (bench/results/batch-<UTC time>), ROWS (1000000), BATCH (256), THREADS (1), PAIRS (5),
# ONLINE_DURATION (10s), ROUNDS (5: online alone, then with a server-side job), HTTP_PORT (18100).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench/results/batch-$(date -u +%Y%m%dT%H%M%SZ)}
ROWS=${ROWS:-1000000}
BATCH=${BATCH:-256}
THREADS=${THREADS:-1}
ONLINE_DURATION=${ONLINE_DURATION:-10s}
ROUNDS=${ROUNDS:-5}
PAIRS=${PAIRS:-5}
SERVER_BATCH=$(( BATCH < 128 ? BATCH : 128 )) # the bench models' max_batch_size
HTTP_PORT=${HTTP_PORT:-18100}
QUIVER=src/Quiver.Cli/bin/Release/net10.0/quiver
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)

dotnet build -c Release src/Quiver.Cli -v quiet -nologo
"$QUIVER" bench models --output "$OUT/models" > /dev/null
MODEL=$OUT/models/bench_wide/1/model.onnx

# Inputs: .npy float32 [rows, 256], 1,000 seeded rows repeated (ONNX Runtime's time does not depend on the values).
make_npy() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import random, struct, sys
path, rows = sys.argv[1], int(sys.argv[2])
random.seed(9)
block = struct.pack("<%df" % (1000 * 256), *(random.uniform(-1, 1) for _ in range(1000 * 256)))
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 256), }" % rows
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    for _ in range(rows // 1000):
        f.write(block)
    f.write(block[: (rows % 1000) * 256 * 4])
PY
}
make_npy "$OUT/big.npy" "$ROWS"
make_npy "$OUT/small.npy" $((ROWS / 10))

# quiver batch run, timed by GNU time (elapsed includes start-up, model load and writing the output).
batch_run() { # INPUT OUTPUT
  sync # the previous run's output still being written back to disk would take CPU from this one
  /usr/bin/time -f "%e %M" -o "$OUT/$2.time" "$QUIVER" batch run --model "$MODEL" --input "$OUT/$1" --output "$OUT/$2.jsonl" \
    --batch-size "$BATCH" --threads "$THREADS" --overwrite > "$OUT/$2.log" 2>&1
}
# PAIRS times: raw ONNX Runtime alone at the same batch size and threads, then the batch run right after it; the
# ratio is each pair's, and the table gives the median pair (a shared host's speed drifts by ±20 % within minutes).
: > "$OUT/pairs.txt"
for pair in $(seq "$PAIRS"); do
  "$QUIVER" bench raw --model-file "$MODEL" --batch "$BATCH" --threads "$THREADS" --duration 5s --json > "$OUT/raw-$pair.json"
  batch_run big.npy "big"
  read -r s kb < "$OUT/big.time"
  echo "$(jq '.results[0].inferences_per_s' "$OUT/raw-$pair.json") $s $kb" >> "$OUT/pairs.txt"
done
# Median by ratio: rows/s of the run ÷ raw.
read -r raw big_s big_kb < <(awk -v rows="$ROWS" '{ print rows / $2 / $1, $0 }' "$OUT/pairs.txt" | sort -n | awk -v n="$PAIRS" 'NR == int((n + 1) / 2) { print $2, $3, $4 }')
ratios=$(awk -v rows="$ROWS" '{ printf "%s%.1f", (NR > 1 ? ", " : ""), rows / $2 / $1 * 100 }' "$OUT/pairs.txt")
batch_run small.npy small
read -r small_s small_kb < "$OUT/small.time"
[[ $(wc -l < "$OUT/big.jsonl") -eq $ROWS ]] || { echo "big.jsonl does not have $ROWS rows"; exit 1; }

# Online latency with and without server-side jobs (bench_wide, the job's model too, so they share its instance).
"$QUIVER" serve --model-repository "$OUT/models" --data-dir "$OUT/data" --http-port "$HTTP_PORT" --grpc-port 0 --metrics-port 0 \
  > "$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$HTTP_PORT/v2/models/bench_wide/ready" > /dev/null; do sleep 0.2; done
online() { # OUTPUT
  "$QUIVER" bench run --url "http://127.0.0.1:$HTTP_PORT" --model bench_wide --protocol rest-binary --concurrency 8 \
    --duration "$ONLINE_DURATION" --warmup 2s --json > "$OUT/$1.json"
}
# ROUNDS times: online alone, then online while a job runs (cancelled after it); the rise is each round's, and the
# table gives the median round. One round's p99 moves by ±20 % on a shared host, paired rounds cancel the drift.
online online-warmup # a fresh server's first seconds (JIT, pools) are slower: not part of any round
: > "$OUT/rounds.txt"
for round in $(seq "$ROUNDS"); do
  online "online-alone-$round"
  job=$(curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs" -H 'content-type: application/json' \
    -d "{\"model\":\"bench_wide\",\"input\":\"$OUT/big.npy\",\"batch_size\":$SERVER_BATCH,\"output\":\"round-$round.jsonl\",\"overwrite\":true}" | jq -r .id)
  online "online-with-job-$round"
  curl -sf "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs/$job" > "$OUT/job-$round.json"
  curl -sf -X DELETE "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs/$job" > /dev/null
  until curl -sf "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs/$job" | jq -e '.state != "running" and .state != "queued"' > /dev/null; do sleep 0.2; done
  jq -r '.state' "$OUT/job-$round.json" | grep -qx running || { echo "round $round: the job was not running at the end of the online run"; exit 1; }
  echo "$(jq '.levels[0].latency_us.p99' "$OUT/online-alone-$round.json") $(jq '.levels[0].latency_us.p99' "$OUT/online-with-job-$round.json")" \
    "$(jq '.levels[0].inferences_per_s' "$OUT/online-alone-$round.json") $(jq '.levels[0].inferences_per_s' "$OUT/online-with-job-$round.json")" \
    "$(jq '.rows_processed' "$OUT/job-$round.json")" >> "$OUT/rounds.txt"
done
rises=$(awk '{ printf "%s%+.1f", (NR > 1 ? ", " : ""), ($2 - $1) * 100 / $1 }' "$OUT/rounds.txt")
read -r p99_alone p99_job ips_alone ips_job job_rows < <(awk '{ print ($2 - $1) / $1, $0 }' "$OUT/rounds.txt" | sort -g |
  awk -v n="$ROUNDS" 'NR == int((n + 1) / 2) { print $2, $3, $4, $5, $6 }')

{
  echo "| figure | value |"
  echo "|---|---:|"
  echo "| raw ONNX Runtime, batch $BATCH, $THREADS thread(s): inferences/s (the median pair's) | $(jq -n "$raw | round") |"
  echo "| quiver batch run, $ROWS rows (.npy → JSON lines), elapsed s | $big_s |"
  echo "| quiver batch run: rows/s (elapsed, start-up included) | $(jq -n "$ROWS / $big_s | round") |"
  echo "| quiver batch run ÷ raw (median of $PAIRS pairs) | $(jq -n "($ROWS / $big_s) * 1000 / $raw | round / 10") % |"
  echo "| quiver batch run ÷ raw, each pair in order | $ratios % |"
  echo "| peak RSS, $((ROWS / 10)) rows | $((small_kb / 1024)) MiB |"
  echo "| peak RSS, $ROWS rows | $((big_kb / 1024)) MiB |"
  echo "| online alone (median round): concurrency 8, inferences/s, p99 µs | $(jq -n "$ips_alone | round"), $(jq -n "$p99_alone | round") |"
  echo "| online while a server-side job runs (same round): inferences/s, p99 µs | $(jq -n "$ips_job | round"), $(jq -n "$p99_job | round") |"
  echo "| online p99 rise while a job runs (median of $ROUNDS rounds) | $(jq -n "($p99_job - $p99_alone) * 1000 / $p99_alone | round / 10") % |"
  echo "| online p99 rise, each round in order | $rises % |"
  echo "| server-side job: rows done during that round's online run ($ONLINE_DURATION after a 2s warm-up) | $job_rows |"
} > "$OUT/batch.md"
cat "$OUT/batch.md"
