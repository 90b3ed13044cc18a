"""Screens: scope (other district → 404), transitions through the web, query counts, exports."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from claims import services
from claims.models import ClaimStatus
from claims.views import safe_cell
from tests.factories import BillFactory, InstitutionFactory, PersonFactory

from .conftest import bill_data

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


class TestScope:
    def test_other_district_caseworker_gets_404_on_claim_bill_ledger(self, client, make_claim, other_caseworker, person):
        claim = make_claim()
        bill = claim.bills.get()
        login(client, other_caseworker)
        for url in (reverse("claims:detail", args=[claim.pk]), reverse("claims:bill", args=[bill.pk]),
                    reverse("claims:ledger", args=[person.pk])):
            assert client.get(url).status_code == 404, url
        assert client.post(reverse("claims:action", args=[claim.pk, "submit"])).status_code == 404

    def test_lists_hide_other_districts(self, client, make_claim, other_caseworker):
        claim = make_claim()
        login(client, other_caseworker)
        assert claim.number not in client.get(reverse("claims:index")).content.decode()
        assert claim.bills.get().settlement_no not in client.get(reverse("claims:bills")).content.decode()

    def test_other_district_reviewer_cannot_decide(self, client, make_claim, other_district):
        from organizations import roles
        from tests.factories import make_staff

        claim = make_claim()
        outsider = make_staff(roles.REVIEWER, district=other_district)
        login(client, outsider)
        assert client.post(reverse("claims:action", args=[claim.pk, "decide"]), {"action": "approve"}).status_code == 404


class TestWorkflowScreens:
    def test_create_submit_approve_through_the_web(self, client, caseworker, reviewer, person, institution):
        login(client, caseworker)
        data = {f"bill-{k}": v for k, v in bill_data(institution, settlement_no="WEB1").items() if k != "institution"}
        data["bill-institution"] = institution.pk
        data.update({"claim-id_number": person.id_number, "claim-applied_on": "2023-04-01", "bill-referral_compliant": "on",
                     "bill-in_province": "on"})
        preview = client.post(reverse("claims:create"), data | {"preview": "1"})
        assert preview.status_code == 200 and "17000.00" in preview.content.decode()
        response = client.post(reverse("claims:create"), data)
        assert response.status_code == 302
        claim = person.claims.get()
        assert client.post(reverse("claims:action", args=[claim.pk, "submit"]), {"confirmed": "1"}).status_code == 302
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED
        # The submitter cannot decide: no decision form, and a POST is refused.
        page = client.get(reverse("claims:detail", args=[claim.pk])).content.decode()
        assert "双人复核" not in page or "decide" not in page
        login(client, reviewer)
        page = client.get(reverse("claims:detail", args=[claim.pk]))
        assert page.status_code == 200 and "京医保发〔2022〕37号" in page.content.decode()
        client.post(reverse("claims:action", args=[claim.pk, "decide"]), {"action": "approve", "note": "ok", "confirmed": "1"})
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.APPROVED

    def test_bad_amounts_on_form_name_the_field(self, client, caseworker, person, institution):
        login(client, caseworker)
        data = {f"bill-{k}": v for k, v in bill_data(institution).items() if k != "institution"}
        data.update({"bill-institution": institution.pk, "bill-basic_paid": "-1", "claim-id_number": person.id_number,
                     "claim-applied_on": "2023-04-01"})
        response = client.post(reverse("claims:create"), data)
        assert response.status_code == 200
        assert "basic_paid" in response.context["bill_form"].errors
        assert not person.claims.exists()

    def test_reject_needs_reason_on_the_form(self, client, make_claim, reviewer):
        claim = make_claim()
        login(client, reviewer)
        response = client.post(reverse("claims:action", args=[claim.pk, "decide"]), {"action": "reject"})
        assert response.status_code == 400
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED


class TestListPerformance:
    def test_bill_list_query_count_is_constant(self, client, caseworker, district, django_assert_max_num_queries):
        institution = InstitutionFactory(district=district)
        for i in range(60):
            BillFactory(person=PersonFactory(hukou_district=district), institution=institution, settlement_no=f"Q{i}")
        login(client, caseworker)
        with django_assert_max_num_queries(13):  # + the capped total (COUNT over at most COUNT_CAP rows)
            response = client.get(reverse("claims:bills"), {"visit_type": "inpatient", "date_from": "2023-01-01"})
        assert response.status_code == 200 and len(response.context["bills"]) == 50
        assert response.context["next_query"]
        second = client.get(reverse("claims:bills") + "?" + response.context["next_query"])
        assert len(second.context["bills"]) == 10

    def test_claim_list_query_count_is_constant(self, client, caseworker, make_claim, institution, django_assert_max_num_queries):
        for _ in range(8):
            make_claim(bills=[bill_data(institution, burden="100.00")])
        login(client, caseworker)
        with django_assert_max_num_queries(13):
            response = client.get(reverse("claims:index"), {"status": "submitted", "visit_type": "inpatient"})
        assert len(response.context["claims"]) == 8


class TestExport:
    def test_csv_export_masks_id_and_escapes_formulas(self, client, caseworker, district, institution):
        person = PersonFactory(hukou_district=district, name="=HYPERLINK(1)")
        BillFactory(person=person, institution=institution)
        login(client, caseworker)
        response = client.get(reverse("claims:bills"), {"export": "csv"})
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body)))
        assert rows[1][2] == "'=HYPERLINK(1)"
        assert person.id_number not in body and person.masked_id_number in body

    def test_xlsx_export(self, client, caseworker, make_claim):
        make_claim()
        login(client, caseworker)
        response = client.get(reverse("claims:index"), {"export": "xlsx"})
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")

    @pytest.mark.parametrize(("value", "expected"), [("=1+1", "'=1+1"), ("+86", "'+86"), ("-x", "'-x"), ("@a", "'@a"),
                                                     ("ok", "ok"), (Decimal("-1.00"), Decimal("-1.00"))])
    def test_safe_cell(self, value, expected):
        assert safe_cell(value) == expected


def test_dashboard_queues(client, make_claim, reviewer, caseworker):
    from claims.queues import claim_queues

    make_claim()
    titles = {q.title: q.count for q in claim_queues(reviewer)}
    assert titles["待审核的报销申请"] == 1
    assert {q.title: q.count for q in claim_queues(caseworker)}["退回补正的申请"] == 0


def test_ledger_page_shows_room(client, caseworker, person, institution):
    BillFactory(person=person, institution=institution)
    services.recompute_person_year(person_id=person.pk, year=2023)
    login(client, caseworker)
    page = client.get(reverse("claims:ledger", args=[person.pk])).content.decode()
    assert "143,000.00" in page and "160,000.00" in page  # money on screens: |yuan (thousands separators)


def test_import_upload_preview_confirm(client, caseworker, person, institution):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from claims.models import Bill, SettlementImport
    from tests.claims.test_imports import csv_bytes, good_row

    login(client, caseworker)
    data = csv_bytes(good_row(person, institution, no="U1"), good_row(person, institution, no="U2", basic_paid="-1"))
    with __import__("django.test.utils", fromlist=["x"]).override_settings(MEDIA_ROOT="/tmp/claims-test-media"):
        response = client.post(reverse("claims:imports"), {"file": SimpleUploadedFile("s.csv", data)})
        job = SettlementImport.objects.get()
        assert response.status_code == 302
    # Eager Celery runs the preview on commit; in a test transaction, run it directly.
    from claims.tasks import settlement_import_apply, settlement_import_preview

    with __import__("django.test.utils", fromlist=["x"]).override_settings(MEDIA_ROOT="/tmp/claims-test-media"):
        settlement_import_preview(job.pk)
        job.refresh_from_db()
        assert (job.status, job.created, job.rejected) == ("previewed", 1, 1)
        assert job.errors[0]["line"] == 3 and not Bill.objects.exists()
        page = client.get(reverse("claims:import", args=[job.pk])).content.decode()
        assert "basic_paid" in page
        # Rows were rejected: confirming without "apply the good rows" applies nothing.
        client.post(reverse("claims:import", args=[job.pk]))
        job.refresh_from_db()
        assert job.status == "previewed"
        settlement_import_apply(job.pk)  # a stray task for an unconfirmed job does nothing
        assert not Bill.objects.exists()
        client.post(reverse("claims:import", args=[job.pk]), {"apply_good_rows": "1"})
        job.refresh_from_db()
        assert job.status == "applying" and job.apply_good_rows
        settlement_import_apply(job.pk)
        job.refresh_from_db()
        assert job.status == "done" and Bill.objects.count() == 1
        settlement_import_apply(job.pk)  # re-delivered: nothing twice
        assert Bill.objects.count() == 1


def test_person_ledger_tag_renders_the_card(person, institution):
    from django.template import Context, Template

    BillFactory(person=person, institution=institution)
    services.recompute_person_year(person_id=person.pk, year=2023)
    html = Template("{% load claims_tags %}{% person_ledger person %}").render(Context({"person": person}))
    assert "年度累计" in html and "143,000.00" in html
