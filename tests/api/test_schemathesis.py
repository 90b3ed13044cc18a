"""Schemathesis against /api/openapi.json: generated requests to every operation never get a
server error nor an answer that breaks the published schema (issue 16, done-when)."""
from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import services
from tests.factories import AgencyFactory, CertificationFactory, InstitutionFactory, PersonFactory


@pytest.fixture
def api_schema(db, district):
    inst = InstitutionFactory(district=district, code="H11010500011", name="中日友好医院")
    person = PersonFactory(hukou_district=district)
    CertificationFactory(person=person)
    hospital, hospital_token = services.api_client_create(name="HIS", institution=inst, rate_limit=10**6)
    agency = AgencyFactory(kind="civil_affairs", district=district, region=district.region)
    _agency, agency_token = services.api_client_create(name="民政", agency=agency, rate_limit=10**6)
    # Like Django's test client: the WSGI app must not close the test's connection after each request.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())
        schema.tokens = {"institution": hospital_token, "agency": agency_token}  # type: ignore[attr-defined]
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


def test_api_never_errors_and_keeps_its_schema(api_schema):
    """Every operation, 30 generated requests each (derandomized: CI sees the same ones)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        kind = "agency" if "/certifications" in operation.path else "institution"
        headers = {"Authorization": f"Bearer {api_schema.tokens[kind]}"}

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
                  database=None)
        def run(case):
            case.call_and_validate(headers=run.headers, checks=CHECKS)

        run.headers = headers
        run()
    from api.models import ApiAccessLog

    codes = set(ApiAccessLog.objects.values_list("status_code", flat=True))
    assert not {c for c in codes if c >= 500}
    assert {c for c in codes if c < 300}, codes  # the generated requests did reach the operations

