# hut-gateway — `make demo` runs the gateway end to end on simulated devices,
# `make test` runs the test suite. Both set up everything they need first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian / Raspberry Pi OS packages: what the tests need on the machine itself.
TEST_DEBS := mosquitto chromium fonts-noto-cjk systemd postgresql
DEMO_DEBS := mosquitto

.PHONY: apt-install all venv system-deps system-deps-demo test test-fast demo lint bench install uninstall clean

all: test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: Python >= 3.11 is needed ($(PYTHON) is older)"; exit 2; }
	@$(PYTHON) -m venv --help >/dev/null 2>&1 && $(PYTHON) -c 'import ensurepip' 2>/dev/null || \
	  $(MAKE) --no-print-directory apt-install DEBS=python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

# Install Debian packages that are missing; as root directly, else explain what to run.
apt-install:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "error: missing system packages:$$missing"; \
	    echo "run:   sudo apt-get update && sudo apt-get install -y$$missing"; exit 2; \
	  fi; \
	fi

system-deps:
	@$(MAKE) --no-print-directory apt-install DEBS="$(TEST_DEBS)"

system-deps-demo:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || \
	  $(MAKE) --no-print-directory apt-install DEBS="$(DEMO_DEBS)" || \
	  echo "note: no Mosquitto; the demo uses its embedded broker"

# axe-core for the kiosk's accessibility tests: from npm into tests/kiosk/.axe (ignored by git)
AXE := tests/kiosk/.axe/node_modules/axe-core/axe.min.js
$(AXE):
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory apt-install DEBS=npm
	npm install --no-save --no-audit --no-fund --prefix tests/kiosk/.axe axe-core@4

test: system-deps venv $(AXE)
	$(BIN)/pytest -q -p no:cacheprovider

test-fast: venv
	$(BIN)/pytest -q -m "not slow and not browser"

demo: system-deps-demo venv
	$(BIN)/hutgw demo

lint: venv
	$(BIN)/ruff check gateway drivers buffer uplink county devtools provisioning hutgw_errors.py tests bench
	$(BIN)/mypy

bench: venv system-deps
	@for b in outbox drain geofence footprint ble_decode serial_watch alerts; do \
	  echo "== bench/$$b.py"; $(BIN)/python bench/$$b.py || exit 1; done

install:
	$(SUDO) ./scripts/install.sh

uninstall:
	$(SUDO) ./scripts/uninstall.sh

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache test-output
