"""POLICY.md §2: no overlapping periods for one person and category, even for two clerks at once."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from beneficiaries import services
from beneficiaries.models import Certification
from tests.conftest import requires_postgres
from tests.factories import category


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_policy_2_concurrent_overlapping_certifications_one_wins(categories, civil_certifier, civil_agency, person):
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def clerk(start):
        try:
            barrier.wait(timeout=10)
            services.certification_create(person=person, category=category("minimum_living"), agency=civil_agency,
                                          officer=civil_certifier, valid_from=start, document_ref="x")
            outcomes.append("created")
        except ValidationError as exc:
            outcomes.append(exc.error_dict["valid_from"][0].code)
        finally:
            connection.close()

    threads = [threading.Thread(target=clerk, args=(date(2024, 1, 1),)),
               threading.Thread(target=clerk, args=(date(2024, 2, 1),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["created", "overlap"]
    assert Certification.objects.filter(person=person).count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_same_roster_imported_twice_at_once_applies_once(categories, civil_agency):
    import io

    from beneficiaries import idnumber
    from beneficiaries.imports import RosterImport, read_roster

    from .conftest import roster_csv

    data = roster_csv([(idnumber.make("110105", date(1961, 1, 1), i), f"人{i}", "minimum_living", "2024-01-01", "", "")
                       for i in range(50)])
    barrier = threading.Barrier(2)
    lines: list[str] = []

    def run():
        try:
            rows = read_roster(io.BytesIO(data), "r.csv")
            barrier.wait(timeout=10)
            lines.append(RosterImport(agency=civil_agency).apply(rows).counts_line())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(lines) == ["created 0, unchanged 50, revoked 0, rejected 0", "created 50, unchanged 0, revoked 0, rejected 0"]
    assert Certification.objects.count() == 50
