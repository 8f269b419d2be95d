#!/usr/bin/env bash
# Installs what attnc needs to build and test, from Debian 12's archive.
# (The CUDA toolkit is optional: ptxas from /usr/local/cuda is used when present.)
# It also puts nvidia-cuda-nvdisasm (PyPI, ~5 MB) into build-venv/ for the
# SASS checks of tests/ptx (sass_run.h). With --python it also sets up the
# Python test environment (below).
set -euo pipefail
cd "$(dirname "$0")/.."
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

# --python: a virtual environment for the Python package's tests (python/),
# build-venv/ (git-ignored), with pytest, numpy and torch from PyPI. PyPI's
# Linux torch wheel carries its CUDA libraries (about 2.5 GB to download,
# 4.6 GB installed, ~2 minutes here; pip's cache makes later runs quick);
# the tests use it on the CPU. ATTNC_PY_TORCH=0 leaves torch out (its tests
# then report "skipped: torch not installed"). torch is pinned to the GPU
# machine's version.
venv=${ATTNC_VENV:-build-venv}
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-venv python3-pip
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# nvdisasm: the SASS of a kernel (tests/ptx/sass_run.c finds it in the venv).
# Pinned: the SASS checks read its text. No network: those checks are skipped.
ls "$venv"/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm >/dev/null 2>&1 ||
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "nvidia-cuda-nvdisasm==13.5.37" ||
  echo "install-deps: nvidia-cuda-nvdisasm not installed (the SASS checks will say skipped)"

if [ "${1:-}" = --python ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel pytest numpy
  if [ "${ATTNC_PY_TORCH:-1}" != 0 ]; then
    "$venv/bin/python" -c 'import torch' 2>/dev/null ||
      "$venv/bin/python" -m pip install -q --disable-pip-version-check "torch==${ATTNC_PY_TORCH_VERSION:-2.11.0}"
  fi
fi
