"""Celery application.

Without a broker (``REDIS_URL`` unset) tasks run eagerly in-process, so ``make run`` works on a
fresh machine with nothing but SQLite. Production and CI set ``REDIS_URL``.
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("medassist")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
