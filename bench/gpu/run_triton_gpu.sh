#!/usr/bin/env bash
# Run bench/gpu/triton_gpu.py on a GPU host without internet (bench/gpu/README.md; results in
# docs/benchmarks.md, section "GPU").
#
# A CUDA torch image (Python 3.12) has torch, transformers, onnx and onnxruntime but usually none
# of PyTriton, tritonclient or pydantic-settings: they come from .gpu/, built on a machine with
# PyPI access by bench/gpu/build_wheels.sh and copied with the repository. Run
# bench/gpu/install_numpy.sh once before this script (numpy 1.26.4, PyTriton's pin).
# Results: $OUT (default /tmp/out): gpu.txt (nvidia-smi), triton_gpu.json, stderr.log.
# Usage (repository root): bash bench/gpu/run_triton_gpu.sh [bench/gpu/triton_gpu.py arguments]
set -euo pipefail
# Into the interpreter's own site-packages: tritonserver's Python backend stub does not see
# PYTHONPATH, only the environment's site-packages.
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
out=${OUT:-/tmp/out}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir .gpu/*.whl
python3 -c "import sys, tarfile; tarfile.open('.gpu/pytriton-slim.tar.xz').extractall(sys.argv[1])" "$site"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
# PyTriton copies tritonserver into its workspace, where the binary's relative library path no
# longer reaches the libraries unpacked beside the package.
export LD_LIBRARY_PATH="$site/nvidia_pytriton.libs:${LD_LIBRARY_PATH:-}"
# tritonserver's Python backend stub links libpython3.12.so.1.0: make sure the loader finds one.
libdir=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
if [ ! -e "$libdir/libpython3.12.so.1.0" ]; then
    found=$(find /usr /opt /root -name 'libpython3.12.so.1.0' 2>/dev/null | head -1 || true)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found"):${LD_LIBRARY_PATH:-}"
fi
# A version packed in parts (bench/gpu/pack_version.sh, gathered by bench/gpu/stash_version.sh):
# rebuild it and measure it instead of the current one.
if [ -f /tmp/finsentry-version/VERSION ]; then
    mkdir -p var/models
    cat /tmp/finsentry-version/part-* | xz -d | tar xf - -C var/models
    set -- --version "$(cat /tmp/finsentry-version/VERSION)" "$@"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$out/gpu.txt"
python3 --version
python3 bench/gpu/triton_gpu.py --out "$out/triton_gpu.json" "$@" 2> >(grep --line-buffered -v '^[IW][0-9]\{4\} ' | tee "$out/stderr.log" >&2)
