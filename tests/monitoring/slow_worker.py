"""A Celery worker process for ``test_worker_kill.py``: ``python -m tests.monitoring.slow_worker``.

Environment (set by the test):

- ``KILL_TEST_QUEUE``: the only queue consumed, and the default queue of what the worker sends
  (the chord of chunks, the finalizer), so the test never touches another test's messages;
- ``KILL_TEST_VISIBILITY``: the Redis ``visibility_timeout`` in seconds (a few, not 40 minutes);
- ``KILL_TEST_HANG_MARKER`` (optional): hang inside the first chunk. The chunk's bulk
  recomputation runs and writes for real, inside the chunk's still open transaction; then the
  marker file is written and the worker sleeps until the test kills it;
- ``KILL_TEST_TRACE``: one JSON line per task started (name, args, ``redelivered``), so the
  test can see that the killed chunk came back as a redelivery of the same message.

Also: one chunk per person (``CHUNK_PEOPLE = 1``), so a run of three people has three chunks.

The pool is prefork, as in production, not solo: a solo worker runs the task inside its event
loop, and Celery defers acknowledgements to that loop, so even an early ack (``acks_late`` off)
would only reach Redis after the task returned, and a kill mid-chunk could not tell the two
apart. With prefork the parent acknowledges (early) while the child works.
"""
from __future__ import annotations

import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
django.setup()

from celery.signals import task_prerun  # noqa: E402

from config.celery_app import app  # noqa: E402
from monitoring import bulk, services  # noqa: E402

QUEUE = os.environ["KILL_TEST_QUEUE"]
VISIBILITY = float(os.environ["KILL_TEST_VISIBILITY"])
MARKER = os.environ.get("KILL_TEST_HANG_MARKER")
TRACE = os.environ["KILL_TEST_TRACE"]

services.CHUNK_PEOPLE = 1

if MARKER:
    recompute_chunk = bulk.recompute_chunk

    def hang_after_writing(**kwargs):
        outcome = recompute_chunk(**kwargs)
        with open(f"{MARKER}.tmp", "w", encoding="utf-8") as f:
            json.dump({"lo": kwargs["lo"], "hi": kwargs["hi"], "bills_changed": outcome.bills_changed}, f)
        os.replace(f"{MARKER}.tmp", MARKER)  # the test never reads half a file
        time.sleep(600)  # killed long before
        return outcome

    bulk.recompute_chunk = hang_after_writing  # services calls bulk.recompute_chunk at run time


@task_prerun.connect
def trace(sender=None, task=None, args=None, **_kwargs):
    redelivered = bool(task.request.delivery_info.get("redelivered"))  # set by kombu when it restores
    line = {"task": task.name, "args": list(args or ()), "redelivered": redelivered}
    with open(TRACE, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


app.conf.update(
    task_always_eager=False,
    task_default_queue=QUEUE,
    result_expires=300,  # the chord's counters and results do not outlive the test for long
    worker_enable_remote_control=False,  # no pidbox queue left behind on the shared Redis
    broker_transport_options={
        "visibility_timeout": VISIBILITY,
        # look for messages past their visibility timeout every second (default: ~100 s)
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    },
)

if __name__ == "__main__":
    app.worker_main([
        "worker", "--pool=prefork", "--concurrency=1", "--loglevel=INFO", f"--queues={QUEUE}",
        f"--hostname=kill-test-{os.getpid()}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])
