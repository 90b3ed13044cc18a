"""追回 (issue 16): an overpayment found by recalculation closes only with a recorded repayment or
an offset against a later approved claim of the same person, never with a note alone."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from claims import services
from claims.imports import import_settlements
from claims.models import PaymentAdjustment, Recovery
from claims.payments import recovery_close
from tests.claims.test_imports import csv_bytes, good_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def overpaid(person, institution):
    import_settlements(data=csv_bytes(good_row(person, institution, paid="18000.00")), file_name="s.csv")
    adjustment = PaymentAdjustment.objects.get()
    assert adjustment.kind == "overpayment" and adjustment.amount == Decimal("1000.00")
    return adjustment


def test_repayment_needs_a_receipt_and_resolves_the_adjustment(overpaid, reviewer):
    with pytest.raises(ValidationError):
        recovery_close(adjustment=overpaid, method="repayment", amount=Decimal("1000.00"), by=reviewer,
                       received_on=date(2023, 5, 1))
    with pytest.raises(ValidationError):
        recovery_close(adjustment=overpaid, method="repayment", amount=Decimal("999.00"), by=reviewer,
                       received_on=date(2023, 5, 1), reference="JK001")
    recovery = recovery_close(adjustment=overpaid, method="repayment", amount=Decimal("1000.00"), by=reviewer,
                              received_on=date(2023, 5, 1), reference="JK001")
    overpaid.refresh_from_db()
    assert overpaid.status == "resolved" and "JK001" in overpaid.note
    assert recovery.reference == "JK001" and recovery.amount == Decimal("1000.00")


def test_offset_against_a_later_approved_claim_of_the_same_person(overpaid, reviewer, make_claim):
    claim = make_claim()
    with pytest.raises(ValidationError):  # still submitted, not approved
        recovery_close(adjustment=overpaid, method="offset", amount=Decimal("1000.00"), by=reviewer,
                       received_on=date(2023, 5, 1), offset_claim=claim)
    services.claim_approve(claim=claim, reviewer=reviewer)
    claim.refresh_from_db()
    recovery = recovery_close(adjustment=overpaid, method="offset", amount=Decimal("1000.00"), by=reviewer,
                              received_on=date(2023, 5, 1), offset_claim=claim)
    assert recovery.offset_claim == claim


def test_the_differences_screen_refuses_a_note_alone_for_an_overpayment(client, overpaid, reviewer):
    client.force_login(reviewer)
    client.post(reverse("claims:resolve", args=[overpaid.pk]), {"note": "已处理"})
    overpaid.refresh_from_db()
    assert overpaid.status == "open" and not Recovery.objects.exists()
    client.post(reverse("claims:resolve", args=[overpaid.pk]),
                {"method": "repayment", "reference": "JK9", "received_on": "2023-05-02"})
    overpaid.refresh_from_db()
    assert overpaid.status == "resolved" and Recovery.objects.get().received_on == date(2023, 5, 2)
