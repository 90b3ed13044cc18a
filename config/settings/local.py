"""Development: ``make run`` on SQLite, Celery eager unless REDIS_URL is set."""
from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SHOW_DEMO_LOGINS = env.bool("SHOW_DEMO_LOGINS", default=True)
