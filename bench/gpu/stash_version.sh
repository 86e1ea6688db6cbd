#!/usr/bin/env bash
# On the GPU host: gather the parts of a packed model version (.gpu-v1/, .gpu-v2/, ... from
# bench/gpu/pack_version.sh) in /tmp/finsentry-version, outside the working tree, where
# bench/gpu/run_triton_gpu.sh finds them. Run it after each part arrives when the parts are
# copied one at a time (a transfer limited in size may replace the working tree each time).
# Usage (repository root): bash bench/gpu/stash_version.sh
set -euo pipefail
mkdir -p /tmp/finsentry-version
cp .gpu-v[0-9]*/* /tmp/finsentry-version/
ls -la /tmp/finsentry-version
