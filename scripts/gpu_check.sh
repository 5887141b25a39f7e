#!/usr/bin/env bash
# The GPU checks in one command, for a CUDA machine: the GPU tests, then the `--device cuda` benchmark.
#
#   scripts/gpu_check.sh [OUTPUT_DIR]
#
# Writes to OUTPUT_DIR (default: $OUT if set, else gpu_check_output/): environment.txt (date, nvidia-smi, versions),
# test_gpu.txt (pytest tests/test_gpu.py) and benchmark_cuda.txt (the table with MFU, and the projection line).
# Exits non-zero if torch sees no CUDA device, a GPU test fails or the benchmark fails.
#
# By default it creates the virtual environment .venv-gpu/ (set GPU_VENV to choose another) and installs
# torch==2.13.0 from PyPI's default index, which on Linux x86_64 is a CUDA build (`make install` keeps the CPU build),
# then this package with its [train,dev] extras. On a machine that already has a CUDA torch, or no network, set
# PYTHON=/path/to/python: the package runs from src/ on that Python's packages. If that Python lacks the audio
# dependencies and the machine has no network, set WHEELS=/path/to/wheels too: a folder of the wheels below, fetched
# for the machine's Python where there is network, e.g. for Python 3.12:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
#       --platform manylinux2014_x86_64 -d wheels soundfile soxr cffi pycparser
# They are installed into a temporary folder put first on PYTHONPATH; that Python's own packages are left alone.
# BENCHMARK_ARGS adds arguments to the benchmark, e.g. BENCHMARK_ARGS="--no-compile" or "--peak-tflops 989".
# BENCHMARK_TIMEOUT=SECONDS stops the benchmark after that long (a GPU lent for a few minutes): it prints each row as
# it is measured, cheapest first, so benchmark_cuda.txt keeps the rows measured by then.
set -euo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
output=${1:-${OUT:-gpu_check_output}}
mkdir -p "$output"

if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
    export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
    if [[ -n "${WHEELS:-}" ]]; then
        site=$(mktemp -d)
        "$python" -m pip install -q --no-index --no-deps --target "$site" "$WHEELS"/*.whl
        export PYTHONPATH="$site:$PYTHONPATH"
    fi
else
    venv=${GPU_VENV:-.venv-gpu}
    test -x "$venv/bin/python" || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q torch==2.13.0
    "$venv/bin/python" -m pip install -q -e ".[train,dev]"
    python=$venv/bin/python
fi

{
    date -u
    if command -v nvidia-smi > /dev/null; then nvidia-smi; else echo "nvidia-smi not found"; fi
    "$python" -c "import os, soundfile, soxr, torch, transformers; print('torch', torch.__version__, 'CUDA', \
torch.version.cuda, 'transformers', transformers.__version__, 'soundfile', soundfile.__version__, 'soxr', \
soxr.__version__, 'from', os.path.dirname(soxr.__file__), 'CPUs', os.cpu_count())"
} 2>&1 | tee "$output/environment.txt"
"$python" -c "import sys, torch; torch.cuda.is_available() or sys.exit('torch sees no CUDA device (a CPU build of torch, or no driver): nothing to check')"

status=0
"$python" -m pytest -v -rs tests/test_gpu.py 2>&1 | tee "$output/test_gpu.txt" || status=1
# shellcheck disable=SC2086  # BENCHMARK_ARGS holds several arguments
timeout "${BENCHMARK_TIMEOUT:-0}" "$python" scripts/benchmark.py --device cuda ${BENCHMARK_ARGS:-} 2>&1 \
    | tee "$output/benchmark_cuda.txt" || status=1
exit $status
