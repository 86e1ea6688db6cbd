#!/usr/bin/env bash
# Build, on a machine with PyPI access, the git-ignored folders that bench/gpu/run_triton_gpu.sh
# installs on a GPU host without internet (bench/gpu/README.md):
#   .gpu/        cp312 wheels of what a CUDA torch image usually lacks (PyTriton, tritonclient,
#                pydantic-settings and their dependencies), PyTriton re-packed (below)
#   .gpu-numpy/  numpy 1.26.4 for cp312 (PyTriton's pin), installed by bench/gpu/install_numpy.sh
# PyTriton's wheel is 55 MB; it is unpacked, cut to the Python 3.12 backend stub and
# re-compressed with xz (~25 MB), so that .gpu/ and the repository fit a 64 MiB transfer.
# Usage (repository root): bash bench/gpu/build_wheels.sh   (PYTHON=... to use another interpreter)
set -euo pipefail
py=${PYTHON:-.venv/bin/python}
plat=(--platform manylinux_2_35_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_24_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64
      --platform manylinux1_x86_64 --platform any)
get() { "$py" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${plat[@]}" "$@"; }
rm -rf .gpu .gpu-numpy && mkdir -p .gpu .gpu-numpy
get -d .gpu tritonclient==2.73.0 pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 \
    python-dotenv==1.2.4 typing-inspection==0.4.5 annotated-types==0.8.0 pyzmq==27.3.0 sh==2.4.0 \
    gevent==26.9.0 geventhttpclient==2.6.1 python-rapidjson==1.25 zope.event==6.2 zope.interface==8.7 \
    greenlet==3.3.2 brotli==1.2.1
get -d .gpu-numpy numpy==1.26.4
tmp=$(mktemp -d)
get -d "$tmp" nvidia-pytriton==0.7.0
(cd "$tmp" && unzip -q nvidia_pytriton-*.whl && rm nvidia_pytriton-*.whl \
    && rm -rf pytriton/tritonserver/python_backend_stubs/3.{8,9,10,11,13} nvidia_pytriton.libs/libpython3-*.13.so* \
    && tar cf - pytriton nvidia_pytriton.libs nvidia_pytriton-0.7.0.dist-info) | xz -9 -T0 > .gpu/pytriton-slim.tar.xz
rm -rf "$tmp"
du -sh .gpu .gpu-numpy
