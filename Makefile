# Two commands from a fresh clone: `make run` and `make test`. Both are idempotent, and fast the
# second time (every step below is a file target or a no-op when already done).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SYSSTAMP := .sysdeps-checked
MO := locale/en/LC_MESSAGES/django.mo
PO := locale/en/LC_MESSAGES/django.po
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint setup sysdeps migrate demo worker worker-simulation beat check-deploy messages benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Pango (WeasyPrint), a Simplified-Chinese font, HarfBuzz subsetting, gettext, and (optional)
# Chromium for the browser tests. Installed when we can (root with apt-get); otherwise a clear
# note. Checked once per clone: `rm .sysdeps-checked && make sysdeps` to check again.
$(SYSSTAMP):
	@bash scripts/sysdeps.sh
	@touch $(SYSSTAMP)

sysdeps: $(SYSSTAMP)

# English interface: compiled only when the .po changed (needs msgfmt from gettext).
$(MO): $(PO) | $(STAMP) $(SYSSTAMP)
	@if command -v msgfmt >/dev/null; then $(PY) manage.py compilemessages --ignore=.venv -v 0; \
	else echo "note: gettext (msgfmt) missing: the interface stays Chinese-only until it is installed" >&2; fi

setup: $(STAMP) $(SYSSTAMP) $(MO)

migrate: setup
	$(PY) manage.py migrate --noinput -v 0

# seed_demo applies pending migrations itself: one Python start-up fewer on every `make run`.
demo: setup
	$(PY) manage.py seed_demo

# SQLite (db.sqlite3) and in-process Celery unless DATABASE_URL / REDIS_URL say otherwise.
run: demo
	@echo "Serving on http://$(HOST):$(PORT)/  (demo logins: README.md, e.g. jingban / demo-jingban-2026)"
	$(PY) manage.py runserver $(HOST):$(PORT)

# The whole suite, then the linter. SQLite unless DATABASE_URL is set (.ci/run sets PostgreSQL and Redis).
test: setup
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# ruff with the rule groups of STYLE.md (ruff.toml); mypy on the rules engine (mypy.ini).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Production Celery: one or more workers, and exactly ONE beat (two beats run every job twice).
worker: setup
	$(VENV)/bin/celery -A config worker -l info

# What-if simulations (issue 19) run on their own queue, so a region-wide replay never delays the
# office's tasks: at least one worker must consume it.
worker-simulation: setup
	$(VENV)/bin/celery -A config worker -Q simulation -c 1 -n simulation@%h -l info

beat: setup
	$(VENV)/bin/celery -A config beat -l info

# Production settings as the environment gives them (every required variable must be set: the
# message names each missing one), Django's deploy checks, and collectstatic into a scratch folder
# (a vendored file referencing a missing one fails here, not on the first page view).
check-deploy: setup
	@export DJANGO_SETTINGS_MODULE=config.settings.production; \
	$(PY) manage.py check --deploy --fail-level WARNING && \
	tmp=$$(mktemp -d) && STATIC_ROOT=$$tmp $(PY) manage.py collectstatic --noinput -v 0 && rm -rf "$$tmp" && \
	echo "check-deploy: production settings, deploy checks and static files OK"

# Backup and restore drill (docs/operations.md): pg_dump + MEDIA_ROOT in one archive; restore only
# into an empty database. DATABASE_URL and MEDIA_ROOT as for the application.
BACKUP_DIR ?= backups
backup:
	@bash scripts/backup.sh backup $(BACKUP_DIR)

restore:
	@bash scripts/backup.sh restore "$(FILE)"

# Deployment smoke test: production settings, PostgreSQL, Redis, gunicorn (what .ci/run runs).
smoke: setup
	$(PY) scripts/smoke_deploy.py

# Re-extract every app's strings, fill English from locale/en/glossary.tsv, compile.
# `python scripts/translate_en.py --missing` lists what the glossary still lacks.
messages: setup
	$(PY) manage.py makemessages -l en --ignore=.venv --ignore=staticfiles --ignore=tests --ignore=benchmarks --no-obsolete
	$(PY) scripts/translate_en.py
	$(PY) manage.py compilemessages --ignore=.venv

benchmarks: setup
	@for f in benchmarks/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; DJANGO_SETTINGS_MODULE=config.settings.local $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) $(SYSSTAMP) db.sqlite3 test.sqlite3 staticfiles .test-media $(MO)
