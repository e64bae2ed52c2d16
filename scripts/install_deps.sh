#!/usr/bin/env bash
# Installs Strata's dependencies from Debian 12 packages (as root, or via sudo). Idempotent:
# does nothing when everything is present.
#
#   scripts/install_deps.sh          everything the tests, examples and benchmarks need
#   scripts/install_deps.sh --main   only what building the library and running the main job needs
#                                    (no PyTorch, libtorch, MPI, ssh server, clang or Prometheus)
set -euo pipefail
main_only=0
[ "${1:-}" = "--main" ] && main_only=1
# Building the libraries, the examples and the strata command; the main job's data set.
packages=(build-essential cmake pkg-config libdnnl-dev libeigen3-dev liblmdb-dev libcereal-dev
          libprotobuf-dev protobuf-compiler libzstd-dev libxxhash-dev libcli11-dev libfmt-dev zlib1g-dev
          libcpp-httplib-dev nlohmann-json3-dev libsodium-dev dataset-fashion-mnist)
if [ $main_only = 0 ]; then
  # The tests: GoogleTest, PyTorch and ONNX checkers, the fuzzers, MPI, a real ssh server, the
  # HTTP clients and Prometheus, chromium for the web view's browser tests, the word lists and fortunes of the text models, the .deb build.
  packages+=(libgtest-dev python3-numpy python3-onnx python3-torch dpkg-dev libtorch-dev clang libfuzzer-14-dev clang-format
             openmpi-bin libopenmpi-dev openssh-server openssh-client prometheus curl chromium
             wamerican wngerman wfrench witalian wspanish wportuguese wdutch wswedish fortunes)
fi
if [ "${STRATA_BENCH_DEPS:-0}" = 1 ]; then packages+=(libopenblas0 hey); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

[ $main_only = 1 ] && exit 0

# Packages from the npm registry for the tests that need them (the library never downloads
# anything): npm_install DIR PACKAGE WHAT, where WHAT is the test that is skipped without it.
npm_install() {
  local dir="$1" package="$2" what="$3"
  [ -f "$dir/node_modules/$package/package.json" ] && return 0
  if command -v npm > /dev/null && command -v node > /dev/null; then
    echo "installing $package into $dir (npm)"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" "$package" \
      || echo "note: npm could not install $package: $what will be skipped"
  else
    echo "note: npm/node not found: $what will be skipped (install Node.js 20 and npm)"
  fi
}
# ONNX Runtime for the ONNX export test (tests/versioning/onnx/onnx_test.cc): onnxruntime-node ships
# a CPU runtime.
npm_install "${STRATA_ORT_DIR:-$HOME/.cache/strata/onnxruntime}" onnxruntime-node "the ONNX Runtime test"
# puppeteer-core drives Debian's chromium in the web view's browser test
# (tests/tools/web_view_test.cc); --ignore-scripts: it downloads no browser of its own.
npm_install "${STRATA_BROWSER_DIR:-$HOME/.cache/strata/browser}" puppeteer-core "the browser test"
