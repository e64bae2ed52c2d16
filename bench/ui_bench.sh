#!/usr/bin/env bash
# The web view (`strata ui`) on logs of 100, 1,000 and 10,000 versions (bench/make_history.cc):
# time to first render of `/` in Debian's chromium (the default page of 100 rows, and all rows on
# one page), page weight, and the server's CPU per page view. 127.0.0.1 only; every loop bounded.
#
#   bench/ui_bench.sh [BUILD_DIR]        (default build; needs chromium, node and puppeteer-core)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
browser="${STRATA_BROWSER_DIR:-$HOME/.cache/strata/browser}/node_modules"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2> /dev/null || true; rm -rf "$work"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
printf '| versions | first render, 100 rows (ms) | first render, all rows (ms) | page weight, 100 rows / all (KB) | server CPU per view (ms) |\n|---|---|---|---|---|\n'
for n in 100 1000 10000; do
  "$build/bench/make_history" --versions "$n" --log "$work/log$n" > /dev/null
  "$build/tools/strata" ui --port 0 --log "$work/log$n" 2> "$work/ui$n.err" &
  pid=$!
  port=""
  for _ in $(seq 100); do
    port=$(grep -oP 'on http://127\.0\.0\.1:\K[0-9]+' "$work/ui$n.err" || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  base="http://127.0.0.1:$port"
  first=() all=()
  for run in 1 2 3; do
    out=$(NODE_PATH="$browser" timeout 300 node tests/tools/browser/web_view_pages.js "$base" "$work" "p=/" "a=/?per=10000")
    first+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["p"]["ms"])')")
    all+=("$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["a"]["ms"])')")
  done
  assets=$(for a in style.css app.js favicon.svg; do curl -s "$base/assets/$a" | wc -c; done | awk '{s += $1} END {print s}')
  w100=$(( $(curl -s "$base/" | wc -c) + assets ))
  wall=$(( $(curl -s "$base/?per=10000" | wc -c) + assets ))
  before=$(ticks $pid)
  for _ in $(seq 20); do curl -s -o /dev/null --max-time 60 "$base/"; done
  cpu_ms=$(( ($(ticks $pid) - before) * 1000 / $(getconf CLK_TCK) / 20 ))
  kill $pid
  wait $pid 2> /dev/null || true
  printf '| %d | %s (%s) | %s (%s) | %d / %d | %d |\n' "$n" "$(printf '%s\n' "${first[@]}" | median)" "$(IFS=,; echo "${first[*]}")" \
    "$(printf '%s\n' "${all[@]}" | median)" "$(IFS=,; echo "${all[*]}")" $((w100 / 1024)) $((wall / 1024)) "$cpu_ms"
done
