#!/usr/bin/env bash
# The batch benchmarks of docs/benchmarks.md (issue 9): `quiver batch run` on bench_wide over ROWS rows of .npy against
# raw in-process ONNX Runtime at the same batch size and threads; peak memory at ROWS / 10 and ROWS rows; online p99 at
# concurrency 8 with and without server-side batch jobs running. Writes every figure to $OUT/batch.md.
#
#   bench/batch-benchmark.sh
#
# Settings (environment): OUT (bench/results/batch-<UTC time>), ROWS (1000000), BATCH (256), THREADS (1),
# ONLINE_DURATION (20s), JOBS (4: server-side jobs queued back to back, long enough to cover the online run), HTTP_PORT (18100).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench/results/batch-$(date -u +%Y%m%dT%H%M%SZ)}
ROWS=${ROWS:-1000000}
BATCH=${BATCH:-256}
THREADS=${THREADS:-1}
ONLINE_DURATION=${ONLINE_DURATION:-20s}
JOBS=${JOBS:-4}
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

# Raw: ONNX Runtime alone at the same batch size and threads.
"$QUIVER" bench raw --model-file "$MODEL" --batch "$BATCH" --threads "$THREADS" --duration 10s --json > "$OUT/raw.json"
raw=$(jq '.results[0].inferences_per_s' "$OUT/raw.json")

# quiver batch run, timed by GNU time (elapsed includes start-up, model load and writing the output).
batch_run() { # INPUT OUTPUT
  sync # the previous run's output still being written back to disk would take CPU from this one
  /usr/bin/time -f "%e %M" -o "$OUT/$2.time" "$QUIVER" batch run --model "$MODEL" --input "$OUT/$1" --output "$OUT/$2.jsonl" \
    --batch-size "$BATCH" --threads "$THREADS" --overwrite > "$OUT/$2.log" 2>&1
}
batch_run big.npy big
batch_run small.npy small
read -r big_s big_kb < "$OUT/big.time"
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
online online-alone
for _ in $(seq "$JOBS"); do
  curl -sf -X POST "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs" -H 'content-type: application/json' \
    -d "{\"model\":\"bench_wide\",\"input\":\"$OUT/big.npy\",\"batch_size\":$SERVER_BATCH}" >> "$OUT/jobs.jsonl"
  echo >> "$OUT/jobs.jsonl"
done
online online-with-jobs
curl -sf "http://127.0.0.1:$HTTP_PORT/v2/admin/batch/jobs" > "$OUT/jobs-after.json"

{
  echo "| figure | value |"
  echo "|---|---:|"
  echo "| raw ONNX Runtime, batch $BATCH, $THREADS thread(s): inferences/s | $(jq -n "$raw | round") |"
  echo "| quiver batch run, $ROWS rows (.npy → JSON lines), elapsed s | $big_s |"
  echo "| quiver batch run: rows/s (elapsed, start-up included) | $(jq -n "$ROWS / $big_s | round") |"
  echo "| quiver batch run ÷ raw | $(jq -n "($ROWS / $big_s) * 1000 / $raw | round / 10") % |"
  echo "| peak RSS, $((ROWS / 10)) rows | $((small_kb / 1024)) MiB |"
  echo "| peak RSS, $ROWS rows | $((big_kb / 1024)) MiB |"
  for run in online-alone online-with-jobs; do
    jq -r --arg r "$run" '.levels[0] | "| \($r): concurrency 8, inferences/s, p50 µs, p99 µs | \(.inferences_per_s | round), \(.latency_us.p50 | round), \(.latency_us.p99 | round) |"' "$OUT/$run.json"
  done
  p99_alone=$(jq '.levels[0].latency_us.p99' "$OUT/online-alone.json")
  p99_jobs=$(jq '.levels[0].latency_us.p99' "$OUT/online-with-jobs.json")
  echo "| online p99 rise while jobs run | $(jq -n "($p99_jobs - $p99_alone) * 1000 / $p99_alone | round / 10") % |"
  echo "| server-side jobs: rows done by the end of that online run ($ONLINE_DURATION after a 2s warm-up) | $(jq '[.jobs[].rows_processed] | add' "$OUT/jobs-after.json") |"
} > "$OUT/batch.md"
# The jobs must have covered the whole online run: one still running or queued at its end.
jq -e '[.jobs[] | select(.state == "running" or .state == "queued")] | length > 0' "$OUT/jobs-after.json" > /dev/null ||
  echo "warning: the batch jobs ended before the online run did; raise JOBS or ROWS" >> "$OUT/batch.md"
cat "$OUT/batch.md"
