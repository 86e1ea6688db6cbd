#!/usr/bin/env bash
# Pack a registry version that is not in git (e.g. the accurate tier, 110 MB) for a GPU host
# without internet (bench/gpu/README.md): the version's serving files (model.onnx, meta.json,
# card.md, tokenizer/, encoder.json; not weights.pt) are tarred, xz'd and split into 32 MB parts
# in .gpu-v1/, .gpu-v2/, ..., so that each part with the repository fits a 64 MiB transfer. On
# the GPU host bench/gpu/stash_version.sh gathers the parts, and bench/gpu/run_triton_gpu.sh
# rebuilds the version under var/models and measures it instead of the current one.
# Usage (repository root): bash bench/gpu/pack_version.sh VERSION
set -euo pipefail
version=${1:?usage: pack_version.sh VERSION}
py=${PYTHON:-.venv/bin/python}
src=var/models/$version
[ -f "$src/model.onnx" ] || { echo "no $src/model.onnx" >&2; exit 2; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$version"
cp -r "$src/model.onnx" "$src/meta.json" "$src/card.md" "$src/tokenizer" "$stage/$version/"
# Versions trained before encoder.json existed: write it from their base, which the GPU host
# does not have.
"$py" - "$src" "$stage/$version" <<'PY'
import json, sys
from pathlib import Path
from models.torch_scorer import ENCODER_CONFIG, encoder_config
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
meta = json.loads((src / "meta.json").read_text())
(dst / ENCODER_CONFIG).write_text(json.dumps(encoder_config(src, meta, Path("var/bases")), indent=2))
PY
rm -rf .gpu-v[0-9]*
tar cf - -C "$stage" "$version" | xz -6 -T0 | split -b 32M -d -a 2 - "$stage/part-"
n=0
for part in "$stage"/part-*; do
    n=$((n + 1))
    mkdir -p ".gpu-v$n" && mv "$part" ".gpu-v$n/"
done
echo "$version" > .gpu-v1/VERSION
du -sh .gpu-v[0-9]*
