# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test install browser lint bench bench-quality build check clean

run: $(STAMP)
	$(BIN)/qa build
	$(BIN)/python app.py

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: an unpinned one drags in a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,milvus]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium and a CJK font for the real-browser test (Playwright cannot download browsers here),
# strace and iproute2 (ip, ss) for the network tests. Under CI=true a missing one fails here, and the
# tests that need it fail rather than skip (tests/conftest.py).
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk" && \
	  command -v strace >/dev/null 2>&1 && command -v ss >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || \
	  { (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk strace iproute2 >/dev/null; } || \
	  { echo "could not install chromium, strace or iproute2: the tests that need them will skip"; \
	    case "$$CI" in true|1) echo "CI=true: that is a failure"; exit 1;; esac; }

test: $(STAMP) browser
	$(BIN)/ruff check qa app.py tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check qa app.py tests benchmarks

build: $(STAMP)
	$(BIN)/qa build

check: $(STAMP)
	$(BIN)/qa check

bench-quality: $(STAMP)
	$(BIN)/python benchmarks/quality.py

bench: $(STAMP)
	$(BIN)/python benchmarks/speed.py --quick

clean:
	rm -rf embeddings/gen-* embeddings/CURRENT embeddings/.work embeddings/.lock .pytest_cache
