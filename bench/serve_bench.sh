#!/usr/bin/env bash
# Measures `strata serve` (docs/serving.md "Measured"): HTTP overhead per single-image request,
# throughput under 8 concurrent clients with dynamic batching off and on, against the in-process
# Predictor at the same thread count (bench/serve_bench.cc, which is also the sequential HTTP
# latency client: hey prints latencies to 0.1 ms only) and ONNX Runtime in-process
# (bench/onnx_latency.js), then a hot swap (tag flips under load) and the memory after many swaps.
# Everything targets 127.0.0.1; every load run is bounded in time.
#
#   bench/serve_bench.sh [--model mlp|cnn] [--rounds R] [--seconds S] [--threads N] [--flips F] [--swaps W]
#                        [--parts "latency swap memory"]
# Needs: build/ (scripts/build.sh), hey (STRATA_BENCH_DEPS=1 scripts/install_deps.sh), node and
# onnxruntime-node (installed by scripts/install_deps.sh) for the ONNX Runtime line.
set -euo pipefail
cd "$(dirname "$0")/.."
model=mlp rounds=3 seconds=15 threads=2 flips=30 swaps=200 parts="latency swap memory"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --flips) flips="$2"; shift 2 ;;
    --swaps) swaps="$2"; shift 2 ;;
    --parts) parts="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "serve_bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v hey > /dev/null || { echo "serve_bench.sh: hey is missing (STRATA_BENCH_DEPS=1 scripts/install_deps.sh)" >&2; exit 2; }
strata=build/tools/strata
work=$(mktemp -d /tmp/strata-serve-bench.XXXXXX)
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2> /dev/null; wait 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
log="$work/log"

echo "# strata serve benchmark: $model, $threads threads, $(nproc) cores, $(date -u +%F)"
build/examples/train_fashion_mnist --model "$model" --epochs 2 --limit 6000 --no-tensorboard --threads 2 \
  --log-dir "$log" > "$work/train.log" 2>&1
$strata tag v1 main@1 --log "$log" > /dev/null
$strata tag v2 main@2 --log "$log" > /dev/null
$strata tag production main@1 --log "$log" > /dev/null
python3 - "$work/body.json" << 'EOF'
import gzip, json, sys
raw = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()[16:16 + 784]
json.dump({"inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32",
                       "data": [b / 255 for b in raw]}]}, open(sys.argv[1], "w"))
EOF

# start_server EXTRA...: strata serve production on a free port; sets $port and $server_pid.
start_server() {
  "$strata" serve production --log "$log" --port 0 --threads "$threads" "$@" 2> "$work/serve.err" &
  server_pid=$!
  for _ in $(seq 1 300); do
    port=$(grep -oP 'http://127\.0\.0\.1:\K[0-9]+' "$work/serve.err" || true)
    [[ -n "$port" ]] && return 0
    sleep 0.05
  done
  echo "the server did not start:" >&2; cat "$work/serve.err" >&2; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" || true; server_pid=""; }
url() { echo "http://127.0.0.1:$port/v2/models/production/infer"; }
# hey_run ARGS...: prints "p50_ms p99_ms requests_per_s non200_or_errors".
hey_run() {
  hey "$@" -m POST -T application/json -D "$work/body.json" "$(url)" > "$work/hey.txt"
  awk '/ 50% in/ {p50=$3*1000} / 99% in/ {p99=$3*1000} /Requests\/sec/ {rps=$2}
       /Status code distribution/ {codes=1} /Error distribution/ {codes=0; errs=1}
       codes && /\[[0-9]+\]/ {c=$1; gsub(/[\[\]]/, "", c); if (c != "200") bad += $2}
       errs && /\[[0-9]+\]/ {n=$1; gsub(/[\[\]]/, "", n); bad += n}
       END {printf "%.3f %.3f %.1f %d\n", p50, p99, rps, bad}' "$work/hey.txt"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
minmax() { sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s..%s", lo, hi}'; }

: > "$work/rounds.txt"
if [[ " $parts " == *" latency "* ]]; then
for r in $(seq 1 "$rounds"); do
  # Alternate the sides: in-process first on odd rounds, HTTP first on even ones.
  inproc() { build/bench/serve_bench "$log" main@1 --threads "$threads" --seconds "$seconds" --runs 3000; }
  http() {
    local batching=$1; shift
    start_server "$@"
    local lat
    lat=$(build/bench/serve_bench --http "$port" /v2/models/production/infer "$work/body.json" 3000)
    lat50=$(echo "$lat" | grep -oP 'p50":\K[0-9.]+'); lat99=$(echo "$lat" | grep -oP 'p99":\K[0-9.]+')
    read -r _ c99 rps bad < <(hey_run -z "${seconds}s" -c 8)
    stop_server
    echo "http batching=$batching p50=$lat50 p99=$lat99 c8_p99=$c99 rps=$rps non200=$bad" >> "$work/rounds.txt"
  }
  if (( r % 2 )); then echo "inproc $(inproc)" >> "$work/rounds.txt"; http off; http on --max-batch 8 --batch-timeout-us 200
  else http on --max-batch 8 --batch-timeout-us 200; http off; echo "inproc $(inproc)" >> "$work/rounds.txt"; fi
done
cat "$work/rounds.txt"

get() { grep "$1" "$work/rounds.txt" | grep -oP " $2=\K[0-9.]+" ; }
in_p50=$(grep inproc "$work/rounds.txt" | grep -oP '"latency_ms_p50":\K[0-9.]+' | median)
in_p99=$(grep inproc "$work/rounds.txt" | grep -oP '"latency_ms_p99":\K[0-9.]+' | median)
in_rps=$(grep inproc "$work/rounds.txt" | grep -oP '"throughput_per_s":\K[0-9.]+' | median)
echo
echo "| measure | median | min..max | target |"
echo "|---|---|---|---|"
echo "| in-process Predictor, 1 image: p50 / p99 ms | $in_p50 / $in_p99 | | |"
for b in off on; do
  p50=$(get "batching=$b" p50 | median); p99=$(get "batching=$b" p99 | median)
  echo "| HTTP, batching $b, 1 client: p50 / p99 ms | $p50 / $p99 | $(get "batching=$b" p50 | minmax) / $(get "batching=$b" p99 | minmax) | |"
  echo "| HTTP overhead, batching $b: p50 / p99 ms | $(echo "$p50 - $in_p50" | bc -l | xargs printf %.3f) / $(echo "$p99 - $in_p99" | bc -l | xargs printf %.3f) | | <= 0.3 / <= 1 |"
  rps=$(get "batching=$b" rps | median)
  echo "| throughput, 8 clients, batching $b: req/s (share of in-process $in_rps) | $rps ($(echo "100 * $rps / $in_rps" | bc -l | xargs printf %.0f)%) | $(get "batching=$b" rps | minmax) | >= 80% |"
done

# ONNX Runtime in-process on the exported version, same thread count.
ort_dir="${STRATA_ORT_DIR:-$HOME/.cache/strata/onnxruntime}"
if [[ -f "$ort_dir/node_modules/onnxruntime-node/package.json" ]]; then
  $strata export main@1 --onnx "$work/model.onnx" --log "$log" > /dev/null
  ort=$(node bench/onnx_latency.js "$ort_dir" "$work/model.onnx" 3000 "$threads")
  echo "| ONNX Runtime in-process, 1 image: p50 / p99 ms | $(echo "$ort" | grep -oP 'p50":\K[0-9.]+' | xargs printf %.4f) / $(echo "$ort" | grep -oP 'p99":\K[0-9.]+' | xargs printf %.4f) | | |"
fi

fi

# Hot swap: 8 clients for 60 s while the tag flips $flips times.
if [[ " $parts " == *" swap "* ]]; then
start_server --poll-ms 100
hey -z 60s -c 8 -m POST -T application/json -D "$work/body.json" "$(url)" > "$work/swap.txt" &
hey_pid=$!
sleep 2
for i in $(seq 1 "$flips"); do
  $strata tag -f production "$([[ $((i % 2)) = 1 ]] && echo v2 || echo v1)" --log "$log" > /dev/null
  sleep "$(echo "56 / $flips" | bc -l)"
done
wait "$hey_pid"
loads=$(curl -s "http://127.0.0.1:$port/metrics" | grep -oP 'strata_model_loads_total\{model="production",result="success"\} \K[0-9]+')
cp "$work/swap.txt" "$work/hey.txt"
read -r _ swap_p99 _ swap_bad < <(awk '/ 99% in/ {p99=$3*1000}
       /Status code distribution/ {codes=1} /Error distribution/ {codes=0; errs=1}
       codes && /\[[0-9]+\]/ {c=$1; gsub(/[\[\]]/, "", c); if (c != "200") bad += $2}
       errs && /\[[0-9]+\]/ {n=$1; gsub(/[\[\]]/, "", n); bad += n}
       END {printf "0 %.3f 0 %d\n", p99, bad}' "$work/swap.txt")
steady_p99=$(get "batching=off" c8_p99 | median)
[[ -z "$steady_p99" ]] && steady_p99="(run the latency part)"
echo "| hot swap: $flips flips under 8 clients, 60 s: non-200 responses + socket errors | $swap_bad | $loads loads | 0 |"
echo "| hot swap: p99 during flips vs steady p99 (ms) | $swap_p99 vs $steady_p99 | | <= 2x |"
stop_server
fi
# Memory: resident size before and after $swaps swaps (poll every 10 ms, wait for each swap).
if [[ " $parts " == *" memory "* ]]; then
start_server --poll-ms 10
rss() { curl -s "http://127.0.0.1:$port/metrics" | grep -oP '^process_resident_memory_bytes \K[0-9.e+]+' | xargs printf %.0f; }
status_version() {
  curl -s "http://127.0.0.1:$port/v2/models/production/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])'
}
for i in 1 2 3 4; do $strata tag -f production "$([[ $((i % 2)) = 1 ]] && echo v2 || echo v1)" --log "$log" > /dev/null; sleep 0.2; done
before=$(rss)
for i in $(seq 1 "$swaps"); do
  target=$([[ $((i % 2)) = 1 ]] && echo v2 || echo v1)
  $strata tag -f production "$target" --log "$log" > /dev/null
  want=$($strata log --json --log "$log" "$target" | grep -oP '"id":"\K[0-9a-f]{32}' | head -1)
  for _ in $(seq 1 200); do [[ "$(status_version)" == "$want" ]] && break; sleep 0.01; done
done
after=$(rss)
$strata export main@1 --safetensors "$work/model.safetensors" --log "$log" > /dev/null
params=$(stat -c %s "$work/model.safetensors")
echo "| resident memory after $swaps swaps: before / after / growth (one model: $params B) | $before / $after / $((after - before)) B | | growth <= $params B |"
stop_server
fi
