# Two entry points (see README): `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
DEFAULT_BUNDLE := qwen2.5-coder-0.5b-offline
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | sha256sum | cut -c1-16)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

WHEELS := $(HOME)/.cache/qwen-playground/wheels
LLAMA_STAMP := $(VENV)/.llama-$(shell cat requirements-llama.txt 2>/dev/null | sha256sum | cut -c1-16)

.PHONY: run test install llama fetch browser-deps postgres-deps clean-models help

help:
	@echo "make run   - install, fetch the offline model, start the app on http://localhost:$(PORT)"
	@echo "make test  - install everything and run the whole test suite"

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# llama.cpp (optional engine; the tests use it). The sdist compiles llama.cpp: build it once into a
# wheel cache with GGML_NATIVE=OFF (the native build enables AMX and crashes at load on these CPUs).
$(LLAMA_STAMP): requirements-llama.txt $(STAMP)
	@mkdir -p $(WHEELS)
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps \
		--find-links $(WHEELS) -w $(WHEELS) $$(grep -E '^llama-cpp-python' requirements-llama.txt | cut -d'[' -f1 | cut -d' ' -f1)
	$(BIN)/python -m pip install -q --disable-pip-version-check --find-links $(WHEELS) -r requirements-llama.txt
	@rm -f $(VENV)/.llama-* && touch $@

llama: $(LLAMA_STAMP)

fetch: install
	$(BIN)/python -m core fetch $(DEFAULT_BUNDLE)

# Debian's Chromium for the end-to-end tests (Playwright drives it; it never downloads a browser).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi
	@/usr/bin/chromium --version

# Debian's PostgreSQL server binaries for the shared-store tests (they start their own server in a temp dir).
postgres-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; \
	fi
	@ls -d /usr/lib/postgresql/*/bin | tail -1

# `make run` adds llama.cpp only when its wheel is already built (a first build takes ~20 min; the app
# works without it and says so): `make llama` builds it once.
LLAMA_VERSION := $(shell sed -n 's/^llama-cpp-python[^=]*==//p' requirements-llama.txt 2>/dev/null)
LLAMA_IF_CACHED := $(if $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl),llama,)

run: install $(LLAMA_IF_CACHED) fetch
	$(BIN)/streamlit run app.py --server.port $(PORT)

# llama.cpp is installed for the tests when its optional requirements file is present.
LLAMA_FOR_TESTS := $(if $(wildcard requirements-llama.txt),llama,)

test: install $(LLAMA_FOR_TESTS) fetch browser-deps postgres-deps
	HF_HUB_OFFLINE=1 PLAYGROUND_REQUIRE_OFFLINE_MODEL=1 PLAYGROUND_REQUIRE_BROWSER=1 PLAYGROUND_REQUIRE_POSTGRES=1 PLAYGROUND_REQUIRE_LLAMA=1 \
		$(BIN)/python -m pytest

clean-models:
	rm -rf models .cache
