# Two commands from a fresh clone: `make run` and `make test`. Both are idempotent.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
SYSSTAMP := .sysdeps-checked
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup sysdeps migrate demo worker beat check-deploy messages benchmarks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Pango (WeasyPrint), a Simplified-Chinese font and HarfBuzz subsetting. Installed when we can
# (root with apt-get); otherwise a clear note, since PDFs would show boxes instead of Chinese.
$(SYSSTAMP):
	@bash scripts/sysdeps.sh
	@touch $(SYSSTAMP)

sysdeps: $(SYSSTAMP)

setup: $(STAMP) $(SYSSTAMP)
	$(PY) manage.py compilemessages --ignore=.venv -v 0

migrate: setup
	$(PY) manage.py migrate --noinput -v 0

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	@echo "Serving on http://$(HOST):$(PORT)/  (demo users and passwords: see README.md)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: setup
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest $(PYTEST_ARGS)

worker: setup
	$(VENV)/bin/celery -A config worker -l info

beat: setup
	$(VENV)/bin/celery -A config beat -l info

check-deploy: setup
	DJANGO_SETTINGS_MODULE=config.settings.production DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))')} \
	DJANGO_ALLOWED_HOSTS=$${DJANGO_ALLOWED_HOSTS:-medassist.example.gov.cn} $(PY) manage.py check --deploy --fail-level WARNING

messages: setup
	$(PY) manage.py makemessages -l en -l zh_Hans --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) $(SYSSTAMP) db.sqlite3 test.sqlite3 staticfiles .test-media
