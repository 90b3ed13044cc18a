"""POLICY.md §7: letter numbers stay gapless per office and year when issued at the same moment."""
import threading

import pytest
from django.db import connection

from reports.models import Letter, LetterKind
from reports.services import letter_issue_from_content
from tests.conftest import requires_postgres


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_policy_7_numbers_gapless_under_concurrent_issuing(district, reviewer, approved_content):
    workers = 8
    per_worker = 3
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def issue():
        try:
            barrier.wait()
            for _ in range(per_worker):
                letter_issue_from_content(kind=LetterKind.CLAIM_APPROVED, district=district, content=approved_content, by=reviewer)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    seqs = sorted(Letter.objects.filter(district=district).values_list("seq", flat=True))
    assert seqs == list(range(1, workers * per_worker + 1))
    assert Letter.objects.values("number").distinct().count() == workers * per_worker
