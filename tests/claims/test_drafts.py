"""Issue 18, fixing mistakes and confirming: a draft's bills are edited and removed until it is
submitted, a submitted claim is withdrawn by its maker before review (reason, no letter), and
submit / approve / reject / payment batch / mark paid first show what will happen."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from claims import services
from claims.models import Bill, ClaimStatus, PaymentBatch

from .conftest import bill_data

pytestmark = pytest.mark.django_db


def form_data(institution, **overrides) -> dict:
    data = {f"bill-{k}": v for k, v in bill_data(institution).items() if k != "institution"}
    data.update({"bill-institution": institution.pk, "bill-referral_compliant": "on", "bill-in_province": "on"})
    data.update({f"bill-{k}": v for k, v in overrides.items()})
    return data


class TestDraftEdits:
    def test_correct_a_bill_of_a_draft_recomputes_and_is_in_the_history(self, client, caseworker, make_claim, institution):
        claim = make_claim(submit=False)
        bill = claim.bills.get()
        before = bill.total_assistance
        client.force_login(caseworker)
        url = reverse("claims:bill_edit", args=[claim.pk, bill.pk])
        assert client.get(url).status_code == 200
        data = form_data(institution, settlement_no=bill.settlement_no, policy_scope_cost="15000.00", total_cost="16000.00")
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:2000]
        bill.refresh_from_db()
        assert bill.policy_scope_cost == Decimal("15000.00") and bill.total_assistance < before
        assert "修改结算单" in claim.transitions.last().note

    def test_remove_a_bill_asks_first_then_removes(self, client, caseworker, make_claim, institution):
        claim = make_claim(bills=[bill_data(institution), bill_data(institution)], submit=False)
        bill = claim.bills.first()
        client.force_login(caseworker)
        url = reverse("claims:bill_edit", args=[claim.pk, bill.pk])
        first = client.post(url, {"remove": "1"})
        assert first.status_code == 200 and "确认删除" in first.content.decode()
        assert Bill.objects.filter(pk=bill.pk).exists()
        client.post(url, {"remove": "1", "confirmed": "1"})
        assert not Bill.objects.filter(pk=bill.pk).exists()
        assert claim.bills.count() == 1
        assert bill.settlement_no in claim.transitions.last().note

    def test_submitted_claim_cannot_be_edited(self, caseworker, make_claim, institution):
        claim = make_claim()
        bill = claim.bills.get()
        with pytest.raises(ValidationError) as err:
            services.claim_update_bill(claim=claim, bill=bill, data={"other_paid": Decimal("1.00")}, by=caseworker)
        assert err.value.code == "invalid_state"
        with pytest.raises(ValidationError):
            services.claim_remove_bill(claim=claim, bill=bill, by=caseworker)

    def test_edit_header(self, client, caseworker, make_claim):
        claim = make_claim(submit=False)
        client.force_login(caseworker)
        response = client.post(reverse("claims:edit", args=[claim.pk]),
                               {"applied_on": "2023-04-02", "payee_account": "6222 0000 1111", "note": "补录"})
        assert response.status_code == 302
        claim.refresh_from_db()
        assert claim.applied_on == date(2023, 4, 2) and claim.payee_account == "6222 0000 1111"

    def test_other_district_cannot_open_the_edit_pages(self, client, other_caseworker, make_claim):
        claim = make_claim(submit=False)
        client.force_login(other_caseworker)
        assert client.get(reverse("claims:edit", args=[claim.pk])).status_code == 404
        assert client.get(reverse("claims:bill_edit", args=[claim.pk, claim.bills.get().pk])).status_code == 404


class TestWithdraw:
    def test_maker_withdraws_before_review_with_a_reason_and_no_letter(self, client, caseworker, make_claim,
                                                                         django_capture_on_commit_callbacks):
        claim = make_claim()
        client.force_login(caseworker)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            client.post(reverse("claims:action", args=[claim.pk, "withdraw"]), {"reason": "结算单号录错"})
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.DRAFT
        assert claim.transitions.last().note == "撤回：结算单号录错"
        assert callbacks == []  # no letter queued
        from reports.models import Letter

        assert not Letter.objects.filter(claim=claim).exists()

    def test_reason_is_required(self, caseworker, make_claim):
        claim = make_claim()
        with pytest.raises(ValidationError):
            services.claim_withdraw(claim=claim, by=caseworker, reason="  ")

    def test_only_the_maker_and_only_before_review(self, make_claim, caseworker, reviewer, district):
        from organizations import roles
        from tests.factories import make_staff

        claim = make_claim()
        colleague = make_staff(roles.CASEWORKER, district=district, username="colleague")
        with pytest.raises(ValidationError) as err:
            services.claim_withdraw(claim=claim, by=colleague, reason="x")
        assert err.value.code == "not_maker"
        services.claim_approve(claim=claim, reviewer=reviewer)
        with pytest.raises(ValidationError) as err:
            services.claim_withdraw(claim=claim, by=caseworker, reason="x")
        assert err.value.code == "invalid_state"


class TestConfirmations:
    def test_submit_asks_first_naming_amount_and_person(self, client, caseworker, make_claim):
        claim = make_claim(submit=False)
        client.force_login(caseworker)
        page = client.post(reverse("claims:action", args=[claim.pk, "submit"]))
        body = page.content.decode()
        assert page.status_code == 200 and "确认提交" in body
        assert claim.person.name in body and f"{claim.bills.get().total_assistance:,.2f}" in body
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.DRAFT

    @pytest.mark.parametrize(("decision", "label"), [({"action": "approve"}, "确认批准"),
                                                      ({"action": "reject", "reason": "documents"}, "确认不予救助")])
    def test_decisions_ask_first(self, client, reviewer, make_claim, decision, label):
        claim = make_claim()
        client.force_login(reviewer)
        page = client.post(reverse("claims:action", args=[claim.pk, "decide"]), decision)
        assert page.status_code == 200 and label in page.content.decode() and claim.person.name in page.content.decode()
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED
        client.post(reverse("claims:action", args=[claim.pk, "decide"]), decision | {"confirmed": "1"})
        claim.refresh_from_db()
        assert claim.status in (ClaimStatus.APPROVED, ClaimStatus.REJECTED)

    def test_decision_form_has_nothing_chosen(self, client, reviewer, make_claim):
        claim = make_claim()
        client.force_login(reviewer)
        body = client.get(reverse("claims:detail", args=[claim.pk])).content.decode()
        decision = body[body.index('name="action"') - 200: body.index("审核意见")]
        assert "checked" not in decision

    def test_batch_nothing_preselected_and_confirmation_names_total(self, client, caseworker, reviewer, make_claim):
        claims = [make_claim(), make_claim()]
        for claim in claims:
            services.claim_approve(claim=claim, reviewer=reviewer)
            claim.refresh_from_db()
        client.force_login(caseworker)
        body = client.get(reverse("claims:batches")).content.decode()
        assert 'name="claims"' in body and " checked" not in body
        page = client.post(reverse("claims:batches"), {"claims": [c.pk for c in claims]})
        total = sum(c.approved_amount for c in claims)
        assert page.status_code == 200 and f"{total:,.2f}" in page.content.decode()
        assert not PaymentBatch.objects.exists()
        client.post(reverse("claims:batches"), {"claims": [c.pk for c in claims], "confirmed": "1"})
        batch = PaymentBatch.objects.get()
        page = client.post(reverse("claims:batch", args=[batch.pk]), {"reference": "BANK-1"})
        assert "确认已支付" in page.content.decode()
        batch.refresh_from_db()
        assert batch.status == PaymentBatch.Status.OPEN
        client.post(reverse("claims:batch", args=[batch.pk]), {"reference": "BANK-1", "confirmed": "1"})
        batch.refresh_from_db()
        assert batch.status == PaymentBatch.Status.PAID


class TestDates:
    @pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
    def test_bill_dates_outside_the_era_or_in_the_future_are_refused(self, client, caseworker, person, institution, day):
        client.force_login(caseworker)
        data = form_data(institution, discharge_date=day)
        data.update({"claim-id_number": person.id_number, "claim-applied_on": "2023-04-01"})
        response = client.post(reverse("claims:create"), data)
        assert response.status_code == 200
        assert "discharge_date" in response.context["bill_form"].errors
        assert not person.claims.exists()

    def test_future_application_date_is_refused(self, client, caseworker, person, institution):
        client.force_login(caseworker)
        tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
        data = form_data(institution)
        data.update({"claim-id_number": person.id_number, "claim-applied_on": tomorrow})
        response = client.post(reverse("claims:create"), data)
        errors = response.context["claim_form"].errors["applied_on"]
        assert "不能晚于今天" in errors[0]

    def test_service_refuses_future_settlement_dates_for_imports_too(self):
        tomorrow = timezone.localdate() + timedelta(days=1)
        with pytest.raises(ValidationError) as err:
            services.bill_validate({"admission_date": tomorrow, "discharge_date": tomorrow})
        assert err.value.error_dict["admission_date"][0].code == "future"
