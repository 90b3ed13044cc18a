"""The machine API: tokens, scope (404 outside), idempotent settlements and certifications, JSON errors."""
from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import pytest

from api import services
from api.models import ApiAccessLog
from beneficiaries.models import Certification
from claims.models import Bill, LedgerBucket, SettlementRecord

from .conftest import auth, settlement

pytestmark = pytest.mark.django_db


def post(client, url, body, who):
    return client.post(url, json.dumps(body), content_type="application/json", **auth(who))


class TestAuth:
    @pytest.mark.parametrize(("method", "url"), [
        ("get", "/api/v1/eligibility?certno=110105197001010000&on=2023-03-10"),
        ("post", "/api/v1/settlements"), ("get", "/api/v1/settlements/S1"), ("post", "/api/v1/settlements/S1/cancel"),
        ("post", "/api/v1/certifications"), ("get", "/api/v1/certifications"), ("get", "/api/v1/certifications/X"),
        ("post", "/api/v1/certifications/X/revoke"),
    ])
    def test_every_operation_needs_a_token(self, client, method, url):
        response = getattr(client, method)(url)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"

    def test_revoked_token_is_refused(self, client, hospital, person):
        url = f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10"
        assert client.get(url, **auth(hospital)).status_code == 200
        services.api_client_revoke(client=hospital)
        response = client.get(url, **auth(hospital))
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"

    def test_wrong_token_is_refused(self, client, hospital, person):
        hospital.token = hospital.token[:-2] + "xx"
        assert client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10",
                          **auth(hospital)).status_code == 401

    def test_rate_limit(self, client, hospital, person):
        hospital.rate_limit = 2
        hospital.save(update_fields=["rate_limit"])
        url = f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10"
        codes = [client.get(url, **auth(hospital)).status_code for _ in range(3)]
        assert codes == [200, 200, 429]

    def test_every_call_is_in_the_access_log(self, client, hospital, person):
        client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10", **auth(hospital))
        client.get("/api/v1/settlements/NOPE", **auth(hospital))
        client.get("/api/v1/certifications")
        rows = list(ApiAccessLog.objects.order_by("id").values_list("client_id", "status_code"))
        assert rows == [(hospital.pk, 200), (hospital.pk, 404), (None, 401)]

    def test_openapi_document_and_docs_are_served_without_a_cdn(self, client):
        doc = client.get("/api/openapi.json").json()
        assert doc["openapi"].startswith("3.")
        assert "/api/v1/settlements" in doc["paths"]
        html = client.get("/api/docs").content.decode()
        assert "swagger-ui" in html and "cdn" not in html.lower() and "//unpkg" not in html


class TestScope:
    def test_hospital_cannot_read_another_districts_people(self, client, other_hospital, person):
        response = client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10", **auth(other_hospital))
        assert response.status_code == 404 and response.json() == {
            "code": "not_found", "field": "certno", "message": response.json()["message"]}
        response = post(client, "/api/v1/settlements", settlement(person, other_hospital.institution), other_hospital)
        assert response.status_code == 404 and not Bill.objects.exists()

    def test_hospital_cannot_read_another_hospitals_settlement(self, client, hospital, person, district):
        from tests.factories import InstitutionFactory

        same_district = InstitutionFactory(district=district, code="H2")
        neighbour, token = services.api_client_create(name="另一医院", institution=same_district)
        neighbour.token = token
        assert post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital).status_code == 201
        assert client.get("/api/v1/settlements/S1", **auth(neighbour)).status_code == 404

    def test_hospital_posts_only_its_own_institution(self, client, hospital, person):
        body = settlement(person, hospital.institution, fixmedins_code="SOMEONE-ELSE")
        response = post(client, "/api/v1/settlements", body, hospital)
        assert response.status_code == 422 and response.json()["field"] == "fixmedins_code"

    def test_a_hospital_cannot_push_certifications(self, client, hospital, person):
        body = {"certno": person.id_number, "name": person.name, "category": "extreme_poverty", "valid_from": "2024-01-01",
                "document_ref": "X"}
        response = post(client, "/api/v1/certifications", body, hospital)
        assert response.status_code == 403 and response.json()["code"] == "wrong_client_kind"


class TestEligibility:
    def test_answer_is_yes_no_category_policy_and_nothing_else(self, client, hospital, person):
        response = client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2023-03-10", **auth(hospital))
        body = response.json()
        assert set(body) == {"beneficiary", "category", "policy"}
        assert body["beneficiary"] is True and body["category"] and body["policy"]
        assert person.name not in response.content.decode()

    def test_before_certification_is_no(self, client, hospital, person):
        body = client.get(f"/api/v1/eligibility?certno={person.id_number}&on=2021-06-01", **auth(hospital)).json()
        assert body["beneficiary"] is False and body["category"] is None


class TestSettlements:
    def test_post_computes_and_reserves_on_the_ledger(self, client, hospital, person):
        response = post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["total_assistance"] == "17000.00" and body["reserved_amount"] == "17000.00"
        bill = Bill.objects.get()
        assert bill.status == "hospital_paid" and bill.hospital_assistance_paid == Decimal("17000.00")
        assert sum(b.used for b in LedgerBucket.objects.all()) >= Decimal("17000.00")
        assert bill.platform_record.origin == "api" and bill.platform_record.insutype == "390"

    def test_repeated_setl_id_reserves_nothing_twice(self, client, hospital, person):
        first = post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital)
        used = list(LedgerBucket.objects.values_list("bucket", "used"))
        again = post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert Bill.objects.count() == 1 and SettlementRecord.objects.count() == 1
        assert list(LedgerBucket.objects.values_list("bucket", "used")) == used

    def test_policy_3_decision_order_a_later_post_of_an_earlier_stay_never_reduces_an_advance(
            self, client, hospital, person):
        """POLICY.md §3 cap in decision order: the hospital advanced the first answer, so a
        settlement of an EARLIER stay posted afterwards gets only the room left (BJ-3 inpatient
        85 %, cap 160,000: 127,500 then 32,500), and the first bill keeps its 127,500."""
        big = {"medfee_sumamt": "161000.00", "inscp_scp_amt": "160000.00", "hifp_pay": "10000.00"}
        late = post(client, "/api/v1/settlements", settlement(person, hospital.institution, setl_id="LATE",
                                                              begndate="2023-05-01", enddate="2023-05-10",
                                                              setl_time="2023-05-10T10:00:00+08:00", **big), hospital)
        early = post(client, "/api/v1/settlements", settlement(person, hospital.institution, setl_id="EARLY", **big),
                     hospital)
        assert (late.json()["reserved_amount"], early.json()["reserved_amount"]) == ("127500.00", "32500.00")
        figures = {b.settlement_no: (b.total_assistance, b.hospital_assistance_paid) for b in Bill.objects.all()}
        assert figures == {"LATE": (Decimal("127500.00"), Decimal("127500.00")),
                           "EARLY": (Decimal("32500.00"), Decimal("32500.00"))}

    def test_same_setl_id_with_other_content_is_a_conflict(self, client, hospital, person):
        post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital)
        response = post(client, "/api/v1/settlements", settlement(person, hospital.institution, medfee_sumamt="99999.00"),
                        hospital)
        assert response.status_code == 409 and response.json()["field"] == "setl_id"

    def test_cancel_releases_the_reservation(self, client, hospital, person):
        post(client, "/api/v1/settlements", settlement(person, hospital.institution), hospital)
        before = sum(b.used for b in LedgerBucket.objects.all())
        response = post(client, "/api/v1/settlements/S1/cancel", {"reason": "患者退费"}, hospital)
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        assert response.json()["reserved_amount"] is None
        after = sum(b.used for b in LedgerBucket.objects.all())
        assert before - after == Decimal("17000.00")
        again = post(client, "/api/v1/settlements/S1/cancel", {"reason": "重复"}, hospital)
        assert again.status_code == 200  # idempotent

    def test_bad_amount_is_json_with_code_and_field(self, client, hospital, person):
        response = post(client, "/api/v1/settlements", settlement(person, hospital.institution, hifp_pay="-1"), hospital)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid" and response.json()["field"] == "hifp_pay"
        response = post(client, "/api/v1/settlements",
                        settlement(person, hospital.institution, inscp_scp_amt="40000.00"), hospital)
        assert response.status_code == 422 and response.json()["field"] == "inscp_scp_amt"


class TestCertifications:
    def body(self, person, **kw):
        data = {"certno": person.id_number, "name": person.name, "category": "extreme_poverty", "valid_from": "2024-01-01",
                "document_ref": "民政〔2024〕1号"}
        data.update(kw)
        return data

    def test_push_is_idempotent_by_document_ref_and_read_back(self, client, civil_agency, person):
        first = post(client, "/api/v1/certifications", self.body(person), civil_agency)
        assert first.status_code == 201, first.content
        again = post(client, "/api/v1/certifications", self.body(person), civil_agency)
        assert again.status_code == 200 and again.json() == first.json()
        assert Certification.objects.filter(document_ref="民政〔2024〕1号").count() == 1
        other = post(client, "/api/v1/certifications", self.body(person, valid_from="2024-02-01"), civil_agency)
        assert other.status_code == 409 and other.json()["field"] == "document_ref"
        ref = "民政〔2024〕1号"
        read = client.get("/api/v1/certifications/" + quote(ref), **auth(civil_agency))
        assert read.status_code == 200 and read.json()["category"] == "extreme_poverty"
        listing = client.get("/api/v1/certifications", **auth(civil_agency)).json()
        assert [i["document_ref"] for i in listing["items"]].count(ref) == 1
        assert listing["count"] == Certification.objects.filter(agency=civil_agency.agency).count()

    def test_revoke_then_revoke_again(self, client, civil_agency, person):
        post(client, "/api/v1/certifications", self.body(person), civil_agency)
        url = "/api/v1/certifications/" + quote("民政〔2024〕1号") + "/revoke"
        first = post(client, url, {"until": "2024-06-30", "reason": "收入超标"}, civil_agency)
        assert first.status_code == 200 and first.json()["valid_until"] == "2024-06-30" and first.json()["revoked"]
        assert post(client, url, {"until": "2024-06-30", "reason": "收入超标"}, civil_agency).status_code == 200

    def test_category_of_another_agency_kind_is_refused(self, client, civil_agency, person):
        response = post(client, "/api/v1/certifications", self.body(person, category="severe_disability"), civil_agency)
        assert response.status_code in (403, 422) and response.json()["code"] in ("wrong_agency", "unknown_category")

    def test_another_agencys_certification_is_404(self, client, civil_agency, person, district):
        from tests.factories import AgencyFactory

        post(client, "/api/v1/certifications", self.body(person), civil_agency)
        other_agency = AgencyFactory(kind="civil_affairs", district=district, region=district.region, code="X-civil")
        other, token = services.api_client_create(name="另一民政", agency=other_agency)
        other.token = token
        url = "/api/v1/certifications/" + quote("民政〔2024〕1号")
        assert client.get(url, **auth(other)).status_code == 404


def test_letter_verify_shows_what_the_public_page_shows(client):
    response = client.get("/api/v1/letters/verify?number=X&code=ABCD")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
