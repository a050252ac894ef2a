#!/usr/bin/env bash
# The training benchmarks on a bare GPU machine, in at most ~8 minutes; JSON into DIR.
#
#   bash benchmarks/gpu_suite.sh DIR
#
# Before: in the repository root here, `echo /.whl/ >> .git/info/exclude` and download the wheels
# the GPU machine lacks (giotto-ph and its needs, for Python 3.12 x86-64; see the device tool's
# README), e.g. `python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12
# --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl
# giotto-ph==0.2.4 pybind11`, then run this with `.whl` carried. It installs them (no network),
# runs bench_training.py on the GPU (D-I and D-II 10_by_15; 32, 96 and 256 members; loop vs
# vmap, reference vs tiled step) while `nvidia-smi dmon` samples the GPU's utilisation, and
# writes training_gpu.json, gpu_dmon.txt and the console log into DIR.
set -euo pipefail
out=${1:?usage: gpu_suite.sh DIR}
mkdir -p "$out"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
python3 -c "import jax; print(jax.devices())" | tee "$out/devices.txt"
dmon_pid=""
if command -v nvidia-smi > /dev/null; then
  nvidia-smi dmon -s u -d 1 > "$out/gpu_dmon.txt" 2>&1 &
  dmon_pid=$!
fi
trap '[ -n "$dmon_pid" ] && kill "$dmon_pid" 2> /dev/null || true' EXIT
timeout 420 python3 benchmarks/bench_training.py --members 32,96,256 --repeats 2 \
  --out "$out/training_gpu.json" 2>&1 | tee "$out/bench_training.log"
echo "wrote $out"
