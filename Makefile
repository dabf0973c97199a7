# The two commands a newcomer runs: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STACK := deploy/local/stack.sh

.PHONY: asyncapi prerequisites install lock up infra-up down status clean test test-unit demo

# uv where it is on the PATH, else as the module pip installed (a user's pip puts the command in ~/.local/bin).
# Debian's own python3 refuses a plain `pip install` (PEP 668); uv then goes beside its packages.
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

$(PY):
	@command -v uv >/dev/null || python3 -m pip install --quiet uv 2>/dev/null \
		|| python3 -m pip install --quiet --break-system-packages uv
	$(UV) venv --quiet --python 3.11 $(VENV)

prerequisites: ## system packages (PostgreSQL, JDK, Maven, fonts, poppler, zbar, Chromium), only those missing
	@deploy/local/prerequisites.sh

install: $(PY) ## install the locked Python packages of the whole workspace
	$(UV) pip sync --quiet --python $(PY) requirements.lock

lock: ## re-resolve requirements.lock after changing a pyproject.toml, then the images' locks (deploy/image/locks/)
	$(UV) pip compile --quiet requirements.in --group pyproject.toml:dev --generate-hashes --python-version 3.11 -o requirements.lock
	@deploy/image/lock.sh

infra-up: prerequisites install ## Kafka and PostgreSQL only
	@$(STACK) up infra

up: prerequisites install ## Kafka, PostgreSQL, the local mail and SMS servers and the four services
	@$(STACK) up all

down:
	@$(STACK) down

status:
	@$(STACK) status

clean: ## stop the local stack and delete its data (.local/)
	@$(STACK) down --purge

demo: up ## the whole system end to end: a Haryana training cycle through the four services
	@source <($(STACK) env) && cd demo && ../$(PY) haryana.py

asyncapi: install ## regenerate the AsyncAPI documents under docs/asyncapi/ from the services' code
	@$(PY) docs/asyncapi/generate.py

test-unit: install
	$(PY) -m pytest -m unit -q

test: prerequisites install ## starts the local stack when it is not running, then runs every test
	@deploy/k8s/tools/kustomize.sh >/dev/null  # the pinned kustomize the manifest tests build with (needs Go)
	@$(STACK) up infra
	@source <($(STACK) env) && $(PY) -m pytest -q
