#!/usr/bin/env bash
# Installs what attnc needs to build and test, from Debian 12's archive.
# (The CUDA toolkit is optional: ptxas from /usr/local/cuda is used when present.)
set -euo pipefail
pkgs=(build-essential cmake pkg-config llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev
      libffi-dev libcmocka-dev libxxhash-dev libsqlite3-dev zlib1g-dev libzstd-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
