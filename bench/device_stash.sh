#!/usr/bin/env bash
# On a lent GPU machine: keep the carried .gpu-vN/ parts (bench/gpu_carry_version.sh) outside
# the working tree, so that later calls carrying other folders cannot drop them.
set -euo pipefail
mkdir -p /tmp/finsentry-carry
cp .gpu-v[0-9]*/* /tmp/finsentry-carry/
ls -la /tmp/finsentry-carry
