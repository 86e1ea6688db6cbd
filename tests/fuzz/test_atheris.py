"""Each atheris target runs for a bounded number of inputs, coverage-guided from a seed corpus.

A failure prints the property that broke and where libFuzzer saved the input; replay it with
``python -m tests.fuzz.targets <target> -runs=1 <input>``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris", reason="atheris has wheels for Linux x86_64 only")

ROOT = Path(__file__).resolve().parents[2]
RUNS = {"feed": 4000, "record": 20000}  # about 10 s each on one core
SEED = 20261130  # a fixed seed: the same inputs on every run, so a red build is reproducible


def _seed_corpus(target: str, corpus: Path) -> None:
    if target == "feed":
        for f in (ROOT / "tests" / "ingest" / "fixtures").iterdir():
            if f.suffix in (".xml", ".html"):
                shutil.copy(f, corpus / f.name)
        return
    lines = (ROOT / "ingest" / "demo_feed.jsonl").read_bytes().splitlines()[:30]
    for n, line in enumerate(lines):
        (corpus / f"item-{n}.json").write_bytes(line)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("target", sorted(RUNS))
def test_fuzzing_finds_no_input_that_breaks_the_parser(target: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _seed_corpus(target, corpus)
    argv = [sys.executable, "-m", "tests.fuzz.targets", target, f"-atheris_runs={RUNS[target]}", f"-seed={SEED}"]
    argv += ["-max_len=8192", f"-artifact_prefix={tmp_path}/", str(corpus)]
    out = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert out.returncode == 0, out.stderr[-4000:]
    assert f"Done {RUNS[target]}" in out.stderr  # it ran every input, not stopped early
