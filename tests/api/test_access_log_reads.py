"""Every API read of personal data is in the PIPL access log (audit.AccessLog), naming whose."""
from __future__ import annotations

import json

import pytest

from audit.models import AccessLog, Action

from .conftest import auth, settlement

pytestmark = pytest.mark.django_db


def test_api_reads_of_personal_data_are_in_the_access_log(client, hospital, person, institution):
    assert client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10", **auth(hospital)).status_code == 200
    client.post("/api/v1/settlements", json.dumps(settlement(person, institution)), content_type="application/json",
                **auth(hospital))
    assert client.get("/api/v1/settlements/S1", **auth(hospital)).status_code == 200
    reads = list(AccessLog.objects.filter(action=Action.API_READ).order_by("id"))
    assert [(r.user_id, r.person_id) for r in reads] == [(hospital.user_id, person.pk)] * 2
    assert "eligibility" in reads[0].what and "S1" in reads[1].what
    assert all(person.id_number not in r.what + r.path for r in reads)


def test_api_certification_reads_are_in_the_access_log(client, civil_agency):
    assert client.get("/api/v1/certifications", **auth(civil_agency)).status_code == 200
    entry = AccessLog.objects.get(action=Action.API_READ)
    assert entry.user_id == civil_agency.user_id and "certifications" in entry.what
