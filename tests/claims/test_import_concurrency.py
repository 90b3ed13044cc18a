"""Five simultaneous confirms of one previewed settlement import queue ONE apply task (the state
transition is the lock; the task is recorded in the outbox with the transition), and the job records
what was created (real threads, PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from claims.models import Bill, SettlementImport
from tests.claims.test_imports import csv_bytes, good_row
from tests.conftest import requires_postgres


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_simultaneous_confirms_apply_once(person, institution, caseworker, monkeypatch, tmp_path, settings):
    from django.core.files.base import ContentFile

    from claims import tasks

    settings.MEDIA_ROOT = str(tmp_path)
    job = SettlementImport.objects.create(uploaded_by=caseworker, original_name="s.csv",
                                          district_id=person.hukou_district_id,
                                          file=ContentFile(csv_bytes(good_row(person, institution)), name="s.csv"))
    tasks.settlement_import_preview(job.pk)
    job.refresh_from_db()
    assert job.status == "previewed"
    # The outbox records the task with the decision; hold the sending so the threads only race on
    # the transition (the task itself is run below, as a worker and two stray re-deliveries would).
    from operations import outbox
    from operations.models import OutboxTask

    monkeypatch.setattr(outbox, "send", lambda pk: False)
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def confirm() -> None:
        try:
            c = Client()
            c.force_login(caseworker)
            barrier.wait()
            c.post(reverse("claims:import", args=[job.pk]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    queued = [row.args for row in OutboxTask.objects.filter(task_name=tasks.settlement_import_apply.name)]
    assert not errors and queued == [[job.pk]]
    for _ in range(3):  # the one task, then two stray re-deliveries
        tasks.settlement_import_apply(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 1) and Bill.objects.count() == 1
