#!/usr/bin/env bash
# Installs Strata's build and run dependencies from Debian 12 packages (as root, or via sudo).
# Idempotent: does nothing when everything is present.
set -euo pipefail
packages=(build-essential cmake pkg-config libdnnl-dev libeigen3-dev liblmdb-dev libcereal-dev
          libprotobuf-dev protobuf-compiler libgtest-dev libzstd-dev libxxhash-dev libcli11-dev
          libfmt-dev zlib1g-dev dataset-fashion-mnist python3-numpy)
if [ "${STRATA_BENCH_DEPS:-0}" = 1 ]; then packages+=(python3-torch libopenblas0); fi
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
