#!/usr/bin/env bash
# Fuzzes every parser of outside bytes with libFuzzer (clang, ASan + UBSan): IDX, CIFAR and CSV
# readers, the chunk codecs' decoders, commit records/manifests/stats, GraphSpecs, TensorBoard
# event files, npz/safetensors/npy readers, version names, the transfer protocol (`strata
# upload-pack`/`receive-pack` fed request frames), the inference request decoder of `strata serve`,
# signatures, trusted keys and public key files. Each target starts from its seed corpus in tests/fuzz/corpus/<target> plus
# the inputs of past findings in tests/fuzz/regressions/<target>; new interesting inputs go to a
# temporary directory (pass --keep to add them to the tree's corpus). Prints executions and coverage per target; exits 1
# when a target crashes, leaks past the limits or hangs (the input is left in build-fuzz/findings).
#
#   bench/fuzz.sh [--seconds S] [--keep] [--seed-corpus] [TARGET...]
#     --seconds S     time per target (default 60; CI uses 30)
#     --seed-corpus   rewrite tests/fuzz/corpus with make_fuzz_corpus (Strata's own encoders)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60 keep=0 seed=0 targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --seed-corpus) seed=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(idx cifar csv chunk commit_record graph_spec event_file tensor_files version_name transfer infer_request signature)
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")
command -v clang++ > /dev/null || { echo "fuzz.sh: clang++ is missing (apt install clang libfuzzer-14-dev)" >&2; exit 2; }

build=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON \
  -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=OFF -DSTRATA_BUILD_BENCH=OFF > /dev/null
cmake --build "$build" -j"$(nproc)" --target make_fuzz_corpus $(printf 'fuzz_%s ' "${targets[@]}") > "$build/build.log" 2>&1 \
  || { tail -30 "$build/build.log"; exit 1; }
if [[ $seed -eq 1 ]]; then
  rm -rf tests/fuzz/corpus && "$build/tests/fuzz/make_fuzz_corpus" tests/fuzz/corpus
  echo "seed corpus written to tests/fuzz/corpus"
fi

export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1
mkdir -p "$build/findings"
status=0
printf '| target | executions | exec/s | coverage (edges) | features | corpus (seeds + new) |\n|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  fresh=$(mktemp -d)
  dirs=("$fresh" "tests/fuzz/corpus/$t")
  [[ -d tests/fuzz/regressions/$t ]] && dirs+=("tests/fuzz/regressions/$t")
  log="$build/findings/$t.log"
  if ! "$build/tests/fuzz/fuzz_$t" -seed=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/findings/$t-" "${dirs[@]}" > "$log" 2>&1; then
    echo "fuzz_$t: FINDING (log: $log; input: $build/findings/$t-*)" >&2
    grep -m5 -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" >&2 || true
    status=1
  fi
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K\d+' "$log" || echo 0)
  rate=$(grep -oP 'stat::average_exec_per_sec:\s*\K\d+' "$log" || echo 0)
  cov=$(grep -oP '#\d+\s+DONE\s+cov: \K\d+' "$log" || grep -oP 'cov: \K\d+' "$log" | tail -1 || echo ?)
  ft=$(grep -oP '#\d+\s+DONE\s+cov: \d+ ft: \K\d+' "$log" || echo ?)
  seeds=$(ls "tests/fuzz/corpus/$t" 2> /dev/null | wc -l)
  new=$(ls "$fresh" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s + %s |\n' "$t" "$execs" "$rate" "$cov" "$ft" "$seeds" "$new"
  [[ $keep -eq 1 ]] && cp -n "$fresh"/* "tests/fuzz/corpus/$t/" 2> /dev/null || true
  rm -rf "$fresh"
done
exit $status
