"""Issue 12 "a conservation test … has found nothing": a green run means something only if the
checker catches a broken rule. Each test here breaks one rule of the real system on purpose
(an engine that overpays, a payment that pays more than the grant, a ledger row written around
the lock) and asserts that the conservation machine's invariants report it; the last one lets
the random search of the machine itself find the overpaying engine."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from .test_conservation import MoneyMachine, _set_world

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def world(monkeypatch):
    return _set_world(monkeypatch)


@pytest.fixture
def machine(world):
    m = MoneyMachine()
    yield m
    m.teardown()


def _overpaying_engine(monkeypatch):
    """The engine pays the whole burden on top of what the rule gives (a broken rate/cap)."""
    from policies.engine import engine

    def overpaying_of(real):
        def overpaying(*args, **kwargs):
            result = real(*args, **kwargs)
            if result.total > 0:
                return result._replace(assistance=result.assistance + result.burden, total=result.total + result.burden)
            return result
        return overpaying

    # both evaluation paths: the general one and the precompiled fast path (issue 20)
    for name in ("_compute", "_compute_fast"):
        monkeypatch.setattr(engine, name, overpaying_of(getattr(engine, name)))


def _all_invariants(m):
    m.caps_hold_and_ledgers_add_up()
    m.assistance_and_relief_within_burden()
    m.grants_letters_payments_and_report_agree()


def test_conservation_checker_the_honest_sequence_holds(machine):
    """The same steps on the unbroken system: every invariant holds (so the failures below are
    the mutations', not the sequence's)."""
    person = machine.first_person(cat="minimum_living")
    machine.one_stop_bill(person_id=person, burden="9000.00", visit="inpatient", day=date(2023, 3, 1), at_hospital=False)
    machine.claim(person_id=person, burden="4000.00", visit="inpatient", day=date(2023, 5, 1))
    machine.approve(index=0)
    machine.pay()
    _all_invariants(machine)


def test_conservation_checker_catches_an_engine_that_pays_more_than_the_burden(machine, monkeypatch):
    _overpaying_engine(monkeypatch)
    person = machine.first_person(cat="minimum_living")
    machine.one_stop_bill(person_id=person, burden="9000.00", visit="inpatient", day=date(2023, 3, 1), at_hospital=False)
    with pytest.raises(AssertionError):
        machine.assistance_and_relief_within_burden()


def test_conservation_checker_catches_a_payment_of_more_than_the_grant(machine, monkeypatch):
    """A batch that pays one fen more than the grants it carries."""
    from claims import services
    from claims.models import Bill, PaymentBatch

    real = services.payment_batch_mark_paid

    def overpaying(*, batch, reference, by):
        batch = real(batch=batch, reference=reference, by=by)
        PaymentBatch.objects.filter(pk=batch.pk).update(total_amount=batch.total_amount + D("0.01"))
        return batch

    monkeypatch.setattr(services, "payment_batch_mark_paid", overpaying)
    person = machine.first_person(cat="minimum_living")
    machine.claim(person_id=person, burden="4000.00", visit="inpatient", day=date(2023, 5, 1))
    machine.approve(index=0)
    machine.pay()
    assert Bill.objects.filter(status="paid").exists()
    with pytest.raises(AssertionError):
        machine.grants_letters_payments_and_report_agree()


def test_conservation_checker_catches_a_ledger_written_around_the_lock(machine):
    from claims.models import LedgerBucket

    person = machine.first_person(cat="minimum_living")
    machine.one_stop_bill(person_id=person, burden="9000.00", visit="inpatient", day=date(2023, 3, 1), at_hospital=False)
    machine.caps_hold_and_ledgers_add_up()
    bucket = LedgerBucket.objects.filter(ledger__person_id=person).first()
    LedgerBucket.objects.filter(pk=bucket.pk).update(used=bucket.used + D("0.01"))
    with pytest.raises(AssertionError):
        machine.caps_hold_and_ledgers_add_up()


def test_conservation_checker_catches_a_relief_paid_twice(machine, monkeypatch):
    """Issue 16: a relief paid in a batch whose total counts it twice is caught."""
    from applications.models import ReliefPayment
    from claims.models import PaymentBatch

    person = machine.first_person(cat="minimum_living")
    machine.one_stop_bill(person_id=person, burden="60000.00", visit="inpatient", day=date(2023, 3, 1), at_hospital=False)
    machine.relief_on_application(person_id=person)
    machine.pay()
    _all_invariants(machine)
    payment = ReliefPayment.objects.filter(paid_amount__isnull=False).first()
    if payment is None:
        pytest.skip("no relief granted on this sequence")
    PaymentBatch.objects.filter(pk=payment.batch_id).update(total_amount=payment.batch.total_amount + payment.amount)
    with pytest.raises(AssertionError):
        machine.grants_letters_payments_and_report_agree()


def test_conservation_random_search_finds_the_overpaying_engine(monkeypatch, world):
    """The machine's own random sequences (the CI profile's size, no shrinking) find the broken
    engine: the run fails."""
    _overpaying_engine(monkeypatch)
    class Search(MoneyMachine):
        pass

    Search.world = world
    search = settings(max_examples=40, stateful_step_count=14, deadline=None, derandomize=True, database=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck), report_multiple_bugs=False)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(Search, settings=search)
