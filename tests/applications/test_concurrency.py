"""六(三) 同一自然年度内只能申请一次 must hold when two windows receive at the same moment."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from applications.models import Application
from tests.conftest import requires_postgres

from .workflow import receive


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_six_3_once_per_year_under_concurrent_receipt(household, patient, spouse, caseworker):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def window(applicant, on):
        try:
            barrier.wait(timeout=10)
            receive(household=household, patient=applicant, caseworker=caseworker, on=on)
            outcomes.append("received")
        except ValidationError as exc:
            outcomes.append(exc.error_list[0].code)
        finally:
            connection.close()

    threads = [threading.Thread(target=window, args=(patient, date(2024, 3, 1))),
               threading.Thread(target=window, args=(spouse, date(2024, 3, 2)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["already_applied_this_year", "received"]
    assert Application.objects.filter(household=household, year=2024).count() == 1
