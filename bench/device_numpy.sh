#!/usr/bin/env bash
# First call on a lent GPU machine (carry .gpu-numpy, built by bench/gpu_carry.sh), before
# bench/device_triton_gpu.sh in the next call while the machine is warm.
# PyTriton 0.7.0 answers with empty outputs under numpy 2 (docs/benchmarks.md, "GPU"), so this
# puts numpy 1.26.4 in place of the image's 2.x. The image's scipy and scikit-learn are built
# for numpy 2 (scipy reads np.long) and transformers imports them whenever they are installed:
# they go, since nothing the benchmark runs needs them.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps .gpu-numpy/*.whl
python3 -m pip uninstall -q -y scikit-learn scipy
python3 -c "import numpy, torch, transformers; print('numpy', numpy.__version__, 'torch', torch.__version__, torch.cuda.get_device_name(0))"
