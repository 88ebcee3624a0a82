# The two commands a newcomer needs: `make run` and `make test`.
# Each creates or refreshes .venv and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := common bridge consumers devstack
# The real registry and skopeo (end-to-end tests, the demo), Chromium (the dashboard's browser test).
DEBIAN_TEST_PACKAGES ?= docker-registry skopeo chromium chromium-driver
# What the one-minute demo of `make run` needs; without them it runs without a local registry.
DEBIAN_RUN_PACKAGES ?= docker-registry skopeo

.PHONY: run test lint typecheck pytest venv debian-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Debian packages the tests (and the local demo) need, installed only when missing.
debian-deps:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

run: venv
	-@$(MAKE) --no-print-directory debian-deps DEBIAN_TEST_PACKAGES="$(DEBIAN_RUN_PACKAGES)"
	$(BIN)/registry-bridge dev

lint: venv
	$(BIN)/ruff check $(PACKAGES) tests
	$(BIN)/ruff format --check $(PACKAGES) tests

typecheck: venv
	$(BIN)/mypy

pytest: venv debian-deps
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
