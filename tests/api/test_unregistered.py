"""POST /api/v1/settlements for a person not yet registered (国办 五(七); POLICY.md §9, issue 13).

Recorded as a non-beneficiary settlement: the person registered in the hospital's district with
no certification, assistance 0 and why, idempotent by setl_id; the hospital sees nothing more of
the person than before. Before 2026-12 the answer was 404 and nothing was recorded.
"""
from __future__ import annotations

import json
from datetime import date

import pytest

from beneficiaries import idnumber
from beneficiaries.models import Certification, Person
from claims.models import Bill, LedgerBucket, SettlementRecord

from .conftest import auth

pytestmark = pytest.mark.django_db

STRANGER = idnumber.make("110105", date(1980, 5, 5), 123)


def body(setl_id="S9", certno=STRANGER, **kw) -> dict:
    out = {
        "setl_id": setl_id, "mdtrt_id": "MD9", "psn_no": "P9", "psn_name": "王五", "certno": certno,
        "insutype": "310", "psn_type": "11", "setl_time": "2023-03-10T10:30:00+08:00", "begndate": "2023-03-01",
        "enddate": "2023-03-10", "med_type": "21", "medfee_sumamt": "31000.00", "inscp_scp_amt": "30000.00",
        "hifp_pay": "10000.00",
    }
    out.update(kw)
    return out


def post(client, payload, who):
    return client.post("/api/v1/settlements", json.dumps(payload), content_type="application/json", **auth(who))


def test_gb_5_7_api_unregistered_settlement_recorded_as_non_beneficiary(client, hospital, institution):
    response = post(client, body(), hospital)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["total_assistance"] == "0.00" and answer["reserved_amount"] == "0.00"
    assert answer["beneficiary"] is False and answer["reason_code"] == "not_eligible" and answer["reason"]
    # nothing personal in the answer beyond what it was before
    assert set(answer) == {"setl_id", "status", "assistance", "tilted", "special", "total_assistance", "granted",
                           "reserved_amount", "policy", "beneficiary", "reason_code", "reason"}
    assert "王五" not in response.content.decode() and STRANGER not in response.content.decode()
    person = Person.objects.get(id_number=STRANGER)
    assert (person.name, person.hukou_district_id, person.registration_source, person.insurance_type) == (
        "王五", institution.district_id, "settlement_api", "employee")
    assert not Certification.objects.filter(person=person).exists() and person.household is not None
    bill = Bill.objects.get()
    assert bill.person == person and bill.total_assistance == 0 and bill.hospital_assistance_paid == 0
    assert bill.platform_record.origin == "api"
    assert sum(b.used for b in LedgerBucket.objects.filter(ledger__person=person)) == 0


def test_gb_5_7_api_unregistered_settlement_is_idempotent_by_setl_id(client, hospital):
    first = post(client, body(), hospital)
    again = post(client, body(), hospital)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Person.objects.filter(id_number=STRANGER).count() == 1 and SettlementRecord.objects.count() == 1
    changed = post(client, body(medfee_sumamt="32000.00"), hospital)
    assert changed.status_code == 409 and changed.json()["field"] == "setl_id"
    read = client.get("/api/v1/settlements/S9", **auth(hospital)).json()
    assert read["beneficiary"] is False and read["total_assistance"] == "0.00"


def test_gb_5_7_api_unregistered_needs_a_name_and_a_valid_number(client, hospital):
    response = post(client, body(psn_name=None), hospital)
    assert response.status_code == 422 and response.json()["field"] == "psn_name"
    bad = STRANGER[:-1] + ("0" if STRANGER[-1] != "0" else "1")
    response = post(client, body(certno=bad), hospital)
    assert response.status_code == 422 and response.json()["field"] == "certno"
    assert not Person.objects.exists() and not Bill.objects.exists()


def test_gb_5_7_api_person_registered_in_another_district_stays_out_of_scope(client, other_hospital, person):
    """Registered elsewhere is NOT 'not registered': 404 as before, no second person, no bill."""
    response = post(client, body(certno=person.id_number, psn_name=person.name), other_hospital)
    assert response.status_code == 404
    assert Person.objects.count() == 1 and not Bill.objects.exists()


def test_gb_5_7_api_beneficiary_answer_has_no_reason(client, hospital, person):
    answer = post(client, body(certno=person.id_number, psn_name=person.name, setl_id="S1"), hospital).json()
    assert answer["beneficiary"] is True and answer["reason_code"] is None and answer["total_assistance"] != "0.00"
