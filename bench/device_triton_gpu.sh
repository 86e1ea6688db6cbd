#!/usr/bin/env bash
# Run bench/triton_gpu.py on a lent GPU machine (docs/benchmarks.md, "Triton on a GPU").
#
# That machine has torch, transformers, onnx and onnxruntime but none of PyTriton,
# tritonclient or pydantic-settings, and nothing can be fetched there. So the caller carries
# them in .gpu/ (git-ignored): the cp312 wheels, and PyTriton unpacked, cut to the Python 3.12
# backend stub and re-compressed with xz (its wheel alone is over the 64 MiB carry limit
# together with the repository). Recipe, run here from the repository root:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .gpu tritonclient==2.73.0 ...
#   unzip nvidia_pytriton-0.7.0-*.whl; drop python_backend_stubs/3.{8..11,13} and libpython3*.13*;
#   tar cf - pytriton nvidia_pytriton.libs nvidia_pytriton-0.7.0.dist-info | xz -9 > .gpu/pytriton-slim.tar.xz
# Usage there: bash bench/device_triton_gpu.sh [bench/triton_gpu.py arguments]
set -euo pipefail
site=/tmp/site
out=${OUT:-/tmp/out}
mkdir -p "$site" "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .gpu/*.whl
python3 -c "import sys, tarfile; tarfile.open('.gpu/pytriton-slim.tar.xz').extractall(sys.argv[1])" "$site"
export PYTHONPATH="$site:$PWD" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
# tritonserver's Python backend stub links libpython3.12.so.1.0: make sure the loader finds one.
libdir=$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
if [ ! -e "$libdir/libpython3.12.so.1.0" ]; then
    found=$(find /usr /opt /root -name 'libpython3.12.so.1.0' 2>/dev/null | head -1 || true)
    [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found"):${LD_LIBRARY_PATH:-}"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$out/gpu.txt"
python3 --version
python3 bench/triton_gpu.py --out "$out/triton_gpu.json" "$@" 2> >(grep -v '^[IW][0-9]\{4\} ' | tee "$out/stderr.log" >&2)
