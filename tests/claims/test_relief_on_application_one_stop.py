"""京医保发〔2022〕37号 六(三) (issue 12): relief on application comes after every other
assistance, so a one-stop (hospital-settled) bill counted by a granted relief is never raised into
burden the relief already covered, by either recalculation path.

The world: one person (低保, a household of their own) with two one-stop bills in 2023, one paid
at the hospital; relief on application decided on the 2023 burden left; THEN a retroactive
certification (特困, from 2023-01-15) raises both bills' computed figures. Before: 51,000.00 and
7,650.00 granted on 60,000.00 + 9,000.00 burden, relief 3,105.00 on the 10,350.00 left (room
7,245.00). After: the rule computes 60,000.00 and 9,000.00; the first bill's raise fits the room
(58,245.00 granted, 1,755.00 not assisted), the second finds none (7,650.00 stays, 1,350.00 not
assisted); assistance + relief = burden exactly.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from claims import money
from tests.claims.test_conservation import MoneyMachine, _set_world, check_all_invariants

D = Decimal
CLAUSE = "京医保发〔2022〕37号 六(三)"


def _world(monkeypatch):
    from applications.models import Application
    from claims.models import Bill

    _set_world(monkeypatch)
    machine = MoneyMachine()
    person = machine.first_person(cat="minimum_living")
    machine.one_stop_bill(person_id=person, burden="60000.00", visit="inpatient", day=date(2023, 2, 1), at_hospital=True)
    machine.one_stop_bill(person_id=person, burden="9000.00", visit="inpatient", day=date(2023, 6, 1), at_hospital=False)
    first, second = Bill.objects.filter(person_id=person).order_by("discharge_date")
    assert (money.bill_granted(first), money.bill_granted(second)) == (D("51000.00"), D("7650.00"))
    machine.relief_on_application(person_id=person)
    application = Application.objects.get(applicant_id=person)
    assert (application.status, application.relief) == ("approved", D("3105.00"))
    # found later: a certification from before both stays
    machine.certify(person_id=person, cat="extreme_poverty", day=date(2023, 1, 15))
    return machine, person, first.pk, second.pk


def _assert_capped(machine, person, first_pk, second_pk):
    from django.utils import translation

    from claims.letters import explanation_rows
    from claims.models import Bill, PaymentAdjustment
    from claims.services import ledger_damage
    from policies.explain import localize
    from reports import aggregate

    first, second = Bill.objects.get(pk=first_pk), Bill.objects.get(pk=second_pk)
    # the rule's figure is kept (and explained); the grant fits the room the relief left
    assert (first.total_assistance, second.total_assistance) == (D("60000.00"), D("9000.00"))
    assert (money.bill_granted(first), money.bill_granted(second)) == (D("58245.00"), D("7650.00"))
    assert first.computation["relief_cap"] == {
        "clause": CLAUSE, "application_id": first.computation["relief_cap"]["application_id"],
        "application": first.computation["relief_cap"]["application"],
        "computed": "60000.00", "granted": "58245.00", "not_assisted": "1755.00"}
    assert second.computation["relief_cap"]["not_assisted"] == "1350.00"
    line = explanation_rows(first)[-1]
    assert line["key"] == "relief_cap" and line["clause"] == CLAUSE
    assert line["value"].startswith("58245.00（按规则计算 60000.00；依申请救助 ") and line["value"].endswith(
        "已覆盖的负担不再救助 1755.00）")
    with translation.override("en"):
        english = localize([line])[0]
    assert english["label"] == "Approved assistance"
    assert "computed by the rules 60000.00" in english["value"]
    assert english["value"].endswith("not assisted again: 1755.00)")
    # assistance + relief = the burden, never more
    granted = money.bill_granted(first) + money.bill_granted(second)
    assert granted + D("3105.00") == money.bill_burden(first) + money.bill_burden(second)
    # the hospital is owed only the part granted: one open 补发 of 58,245.00 − 48,000.00 paid
    adjustment = PaymentAdjustment.objects.get(bill_id=first_pk, status="open")
    assert (adjustment.kind, adjustment.amount, adjustment.computed_amount) == ("supplementary", D("10245.00"),
                                                                                 D("58245.00"))
    assert not PaymentAdjustment.objects.filter(bill_id=second_pk).exists()
    # ledgers, the fund pre-aggregate, grants, letters and payments agree
    check_all_invariants(machine)
    assert ledger_damage(person_id=person, years=[2023]) == []
    assert aggregate.compare() == []


@pytest.mark.django_db
def test_bj_6_3_per_person_recalculation_fits_a_one_stop_raise_into_the_room_relief_on_application_left(monkeypatch):
    """The per-person path (``claims.services.recompute_person_year``: approvals, imports, commands)."""
    from claims import services

    machine, person, first, second = _world(monkeypatch)
    try:
        outcome = services.recompute_person_year(person_id=person, year=2023)
        assert outcome.bills_changed == 2
        _assert_capped(machine, person, first, second)
        again = services.recompute_person_year(person_id=person, year=2023)
        assert again.bills_changed == 0 and again.adjustments_created == 0
        _assert_capped(machine, person, first, second)
    finally:
        machine.teardown()


@pytest.mark.django_db
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_bj_6_3_nightly_run_fits_a_one_stop_raise_into_the_room_relief_on_application_left(monkeypatch, full):
    """The nightly bulk path (``monitoring.services`` chunks), incremental or full; a full run after it
    finds nothing to change and reports no violation."""
    from monitoring import services as monitoring

    machine, person, first, second = _world(monkeypatch)
    try:
        run = monitoring.run_synchronously(full=full)
        assert run.status == "succeeded", run.errors
        assert run.bills_changed == 2
        _assert_capped(machine, person, first, second)
        check = monitoring.run_synchronously(full=True, dry_run=True)
        assert (check.bills_changed, check.adjustments_created) == (0, 0)
        again = monitoring.run_synchronously(full=True)
        assert (again.bills_changed, again.adjustments_created) == (0, 0)
        assert not again.invariant_violations, again.invariant_violations
        _assert_capped(machine, person, first, second)
    finally:
        machine.teardown()


@pytest.mark.django_db
def test_bj_6_3_a_claim_approved_after_relief_on_application_is_granted_only_the_room_the_relief_left(monkeypatch):
    """京 六(三) at approval: relief on application counted a pending claim's bill with its whole
    burden (9,000.00 left, relief 2,700.00); the claim approved afterwards gets only the 6,300.00
    the relief left, not the 7,650.00 the rule computes (found by the conservation walk once its
    relief was decided before the last approvals). The letter, the payments and the nightly run agree."""
    from claims.letters import explanation_rows
    from claims.models import Bill, Claim
    from reports.models import Letter

    _set_world(monkeypatch)
    machine = MoneyMachine()
    try:
        person = machine.first_person(cat="minimum_living")
        machine.claim(person_id=person, burden="9000.00", visit="inpatient", day=date(2023, 6, 1))
        machine.relief_on_application(person_id=person)
        machine.approve(index=0)
        claim = Claim.objects.get(person_id=person)
        bill = Bill.objects.get(claim=claim)
        assert (bill.total_assistance, bill.granted_amount, claim.approved_amount) == (
            D("7650.00"), D("6300.00"), D("6300.00"))
        assert bill.computation["relief_cap"]["not_assisted"] == "1350.00"
        assert explanation_rows(bill)[-1]["key"] == "relief_cap"
        assert Letter.objects.get(claim=claim, kind="claim_approved", replaced_by__isnull=True).amount == D("6300.00")
        check_all_invariants(machine)
        machine.nightly()  # nothing to correct: the grant already fits the room
        assert not claim.corrections.filter(status="proposed").exists()
        machine.pay()
        check_all_invariants(machine)
    finally:
        machine.teardown()


@pytest.mark.django_db
def test_bj_6_3_every_row_shows_the_grant_a_relief_cap_left_with_the_recomputed_figure_beside_it(monkeypatch, client):
    """Issue 12, one truth on every screen: after the cap, the bill list, the person's ledger and
    the API's settlement answer show the grant (58,245.00), not the rule's figure (60,000.00),
    which stands beside it marked 重算 (claims.money.bill_shown)."""
    from django.urls import reverse

    from api.api import _settlement_out
    from claims import services
    from claims.models import Bill, SettlementRecord

    machine, person, first, _second = _world(monkeypatch)
    try:
        services.recompute_person_year(person_id=person, year=2023)
        bill = Bill.objects.get(pk=first)
        assert bill.assistance_shown == D("58245.00") == money.bill_shown(bill)
        client.force_login(machine.world["caseworker"])
        for url in (reverse("claims:bills"), reverse("claims:ledger", args=[person])):
            page = client.get(url).content.decode()
            assert "58,245.00" in page, url
            assert "重算 60,000.00" in page, url
        record = SettlementRecord(bill=bill, setl_id=bill.settlement_no)
        answer = _settlement_out(record)
        assert (answer["total_assistance"], answer["granted"]) == ("60000.00", "58245.00")
    finally:
        machine.teardown()
