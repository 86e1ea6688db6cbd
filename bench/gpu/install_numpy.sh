#!/usr/bin/env bash
# On the GPU host, once, before bench/gpu/run_triton_gpu.sh (bench/gpu/README.md): installs
# numpy 1.26.4 from .gpu-numpy/ (built by bench/gpu/build_wheels.sh) in place of the image's 2.x.
# PyTriton 0.7.0 answers with empty outputs under numpy 2 (docs/benchmarks.md, "GPU"). CUDA torch
# images ship scipy and scikit-learn built for numpy 2 (scipy reads np.long), and transformers
# imports them whenever they are installed: they are removed, since the benchmark needs neither.
# Usage (repository root): bash bench/gpu/install_numpy.sh
set -euo pipefail
python3 -m pip install -q --no-index --no-deps .gpu-numpy/*.whl
python3 -m pip uninstall -q -y scikit-learn scipy
python3 -c "import numpy, torch, transformers; print('numpy', numpy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
