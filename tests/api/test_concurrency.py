"""Two hospitals posting settlements for the same person at the same moment never exceed a cap,
and a repeated setl_id reserves nothing twice (real threads, real PostgreSQL transactions)."""
from __future__ import annotations

import json
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from api import services
from claims.models import Bill, LedgerBucket
from tests.conftest import requires_postgres
from tests.factories import InstitutionFactory

from .conftest import settlement


def _post_all(bodies_and_tokens):
    barrier = threading.Barrier(len(bodies_and_tokens))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def post(body, token):
        try:
            barrier.wait()
            response = Client().post("/api/v1/settlements", json.dumps(body), content_type="application/json",
                                     HTTP_AUTHORIZATION=f"Bearer {token}")
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=pair) for pair in bodies_and_tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return answers


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_hospitals_at_the_same_moment_never_exceed_the_cap(person, district):
    # BJ-3 inpatient: 85 % of the burden, cap 160,000 a year. Each settlement alone is worth
    # 127,500 (burden 150,000): together they would be 255,000.
    a = InstitutionFactory(district=district, code="HA")
    b = InstitutionFactory(district=district, code="HB")
    client_a, token_a = services.api_client_create(name="A", institution=a, rate_limit=10_000)
    client_b, token_b = services.api_client_create(name="B", institution=b, rate_limit=10_000)
    big = {"medfee_sumamt": "161000.00", "inscp_scp_amt": "160000.00", "hifp_pay": "10000.00"}
    answers = _post_all([(settlement(person, a, setl_id="SA", **big), token_a),
                         (settlement(person, b, setl_id="SB", enddate="2023-03-11", **big), token_b)])
    assert sorted(code for code, _body in answers) == [201, 201]
    reserved = sum(Decimal(body["reserved_amount"]) for _code, body in answers)
    assert reserved <= Decimal("160000.00")
    assert sum(Bill.objects.values_list("total_assistance", flat=True)) == reserved
    for bucket in LedgerBucket.objects.exclude(cap=None):
        assert bucket.used <= bucket.cap
    # The first to take the lock got its 127,500, the second the room left (32,500).
    assert sorted(Decimal(body["reserved_amount"]) for _c, body in answers) == [Decimal("32500.00"), Decimal("127500.00")]


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_setl_id_posted_concurrently_is_reserved_once(person, hospital):
    body = settlement(person, hospital.institution, setl_id="TWICE")
    answers = _post_all([(body, hospital.token)] * 4)
    assert sorted(code for code, _b in answers) == [200, 200, 200, 201]
    assert len({json.dumps(b, sort_keys=True) for _c, b in answers}) == 1
    assert Bill.objects.count() == 1
    assert sum(LedgerBucket.objects.values_list("used", flat=True)) == Decimal("17000.00") * \
        LedgerBucket.objects.filter(used__gt=0).count()
