"""The Celery app pointed at a real Redis for one test, and back to its settings afterwards.

Settings derive ``CELERY_TASK_ALWAYS_EAGER`` and the in-memory broker from ``REDIS_URL`` at import
time, and earlier eager tests leave the app with cached in-memory connections; the worker tests
(monitoring, reports) switch the app to Redis here and drop those caches on the way in and out.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

REDIS = os.environ.get("CELERY_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
SWITCHED = ("broker_url", "result_backend", "task_always_eager")


def forget_connections(app) -> None:
    """Drop the app's cached broker connections, producers and result backend."""
    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu keeps producer pools per connection globally; a worker closed them
    if hasattr(app._local, "backend"):
        del app._local.backend


@contextmanager
def on_redis(app, url: str | None = None) -> Iterator[None]:
    """Tasks go through Redis (``url`` or :data:`REDIS`) inside the block, not eagerly."""
    url = url or REDIS
    saved = {k: app.conf.get(k) for k in SWITCHED}
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    forget_connections(app)
    try:
        yield
    finally:
        app.conf.update(saved)
        forget_connections(app)
