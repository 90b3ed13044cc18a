"""Decision letters: content for the letters app, and issuance on commit of a decision."""
from __future__ import annotations

from decimal import Decimal

import pytest

from claims import services
from claims.letters import letter_content

pytestmark = pytest.mark.django_db

KEYS = {"recipient_name", "recipient_masked_id", "district_name", "decision", "amount", "bills", "explanation",
        "clauses", "reason", "reason_clause", "computed_amount", "payment_route", "policy_document"}


def test_policy_7_approval_letter_content(make_claim, reviewer, person):
    claim = make_claim()
    services.claim_approve(claim=claim, reviewer=reviewer)
    claim.refresh_from_db()
    content = letter_content(claim)
    assert set(content) == KEYS
    assert content["decision"] == "approved" and content["amount"] == Decimal("17000.00")
    assert content["recipient_masked_id"] == person.masked_id_number and person.id_number not in str(content)
    assert content["bills"][0]["total"] == Decimal("17000.00") and content["bills"][0]["burden"] == Decimal("20000.00")
    assert any("京医保发〔2022〕37号" in c for c in content["clauses"])
    assert all({"label", "value", "clause"} <= set(line) for line in content["explanation"])
    assert "1234" in content["payment_route"] and "京医保发" in content["policy_document"]


def test_policy_7_rejection_letter_carries_reason(make_claim, reviewer):
    claim = make_claim()
    services.claim_reject(claim=claim, reviewer=reviewer, reason="unreferred", note="未备案")
    claim.refresh_from_db()
    content = letter_content(claim)
    assert content["decision"] == "rejected" and content["amount"] == Decimal("0.00")
    assert "未按规定办理转诊" in content["reason"] and "未备案" in content["reason"]


def test_letter_is_issued_after_commit_of_the_decision(make_claim, reviewer, django_capture_on_commit_callbacks):
    reports_services = pytest.importorskip("reports.services")
    if not hasattr(reports_services, "letter_issue"):
        pytest.skip("letters app has no letter_issue yet")
    from reports.models import Letter

    claim = make_claim()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.claim_approve(claim=claim, reviewer=reviewer)
    assert not Letter.objects.filter(claim=claim).exists()  # nothing before commit
    for callback in callbacks:
        callback()
    assert Letter.objects.filter(claim=claim, kind="claim_approved").count() == 1


def test_claim_page_links_the_letter(client, make_claim, reviewer, django_capture_on_commit_callbacks):
    reports_services = pytest.importorskip("reports.services")
    if not hasattr(reports_services, "letter_issue"):
        pytest.skip("letters app has no letter_issue yet")
    from django.urls import reverse

    from reports.models import Letter

    claim = make_claim()
    with django_capture_on_commit_callbacks(execute=True):
        services.claim_approve(claim=claim, reviewer=reviewer)
    letter = Letter.objects.get(claim=claim)
    client.force_login(reviewer)
    page = client.get(reverse("claims:detail", args=[claim.pk])).content.decode()
    assert reverse("reports:letter", args=[letter.pk]) in page
