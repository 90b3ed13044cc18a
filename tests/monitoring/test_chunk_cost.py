"""What one nightly chunk costs (issue 12: the full run within 10 % of session 2's code).

The chunk's figures are pinned by the equivalence and conservation tests; these tests pin how it
reads: no query sorts or joins for an ordering nobody uses, the paid bills go as ONE array
parameter, the warnings read the bills once, and the garbage collector is paused for the chunk
and restored after it.
"""
from __future__ import annotations

import gc
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from claims import recalc
from claims.models import Bill, BillStatus, PaymentAdjustment
from monitoring import services
from monitoring.models import RunStatus
from tests.factories import BillFactory, HouseholdFactory, PersonFactory

pytestmark = pytest.mark.django_db


def _chunk_queries(world) -> list[str]:
    ids = sorted(p.pk for p in (world["alice"], world["bob"], world["carol"]))
    from django.db import transaction

    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        recalc.recompute_chunk(lo=ids[0], hi=ids[-1])
    return [q["sql"] for q in ctx.captured_queries]


def test_issue_12_the_chunk_reads_person_years_without_one_row_per_bill(world):
    """The DISTINCT (person, year) of the chunk's bills carries no ORDER BY: the model's default
    ordering (-discharge_date, -id) would enter the DISTINCT and make it one row per bill."""
    distinct = [sql for sql in _chunk_queries(world) if "DISTINCT" in sql.upper()]
    assert distinct, "the chunk lists its person-years with a DISTINCT query"
    for sql in distinct:
        assert "ORDER BY" not in sql.upper(), sql


def test_issue_12_the_chunk_reads_buckets_draws_and_people_without_joins_for_ordering(world):
    """LedgerBucket (ordering ledger, bucket) and LedgerDraw (ledger, created_at, id) order by a
    foreign key, which Django turns into a join through the ledger's own ordering (person, -year):
    the chunk reads them by ledger id alone."""
    services.run_synchronously(full=True)  # ledgers and buckets exist
    for sql in _chunk_queries(world):
        head = sql.split(" WHERE ")[0]
        if 'FROM "claims_ledgerbucket"' in head or 'FROM "claims_ledgerdraw"' in head:
            assert "JOIN" not in head.upper(), sql


def test_issue_12_paid_bills_are_looked_up_with_one_array_parameter(world):
    """reconcile_paid sends the chunk's paid bills as one parameter, not one per bill."""
    services.run_synchronously(full=True)
    Bill.objects.filter(pk__in=[b.pk for b in world["bills"]]).update(
        status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("1.00"))
    queries = [sql for sql in _chunk_queries(world) if 'FROM "claims_paymentadjustment"' in sql]
    assert queries
    for sql in queries:
        assert not re.search(r'"bill_id" IN \((%s|\d)', sql), sql  # no parameter (or id) per bill


def test_issue_12_any_lookup_matches_in(world):
    """``__any`` (organizations.lookups) selects exactly what ``__in`` selects, on both databases."""
    ids = [b.pk for b in world["bills"]]
    wanted = sorted(ids[:2])
    assert sorted(Bill.objects.filter(pk__any=wanted).values_list("pk", flat=True)) == wanted
    assert sorted(Bill.objects.filter(person_id__any=[world["alice"].pk]).values_list("pk", flat=True)) == wanted
    assert list(Bill.objects.filter(pk__any=[])) == []
    assert list(PaymentAdjustment.objects.filter(bill_id__any=ids)) == []


def test_issue_12_the_collector_is_paused_for_the_chunk_and_restored(world, monkeypatch):
    seen = []
    real = recalc.ReliefFit.__init__

    def init(self, *args, **kwargs):  # built once per chunk, inside it
        seen.append(gc.isenabled())
        real(self, *args, **kwargs)

    monkeypatch.setattr(recalc.ReliefFit, "__init__", init)
    assert gc.isenabled()
    run = services.run_synchronously(full=True)
    assert run.status == RunStatus.SUCCEEDED
    assert seen and not any(seen)  # off while the chunk ran
    assert gc.isenabled()  # on again after

    def boom():
        raise RuntimeError("chunk failed")

    monkeypatch.setattr(recalc.PolicyPicker, "load", staticmethod(boom))
    with pytest.raises(RuntimeError):
        recalc.recompute_chunk(lo=0, hi=10**9)
    assert gc.isenabled()  # restored on failure too

    gc.disable()
    try:
        with recalc.gc_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()


def test_policy_6_warnings_read_the_bills_once_and_the_household_is_the_sum_of_its_members(world):
    """国办 五(七): the threshold applies to the heaviest member; the household burden stored beside
    it is the sum of the members' burdens, from the same single read of the bills."""
    household = HouseholdFactory(district=world["alice"].hukou_district)
    one = PersonFactory(hukou_district=household.district, household=household)
    two = PersonFactory(hukou_district=household.district, household=household)
    BillFactory(person=one, discharge_date=date(2023, 4, 2), admission_date=date(2023, 4, 1))
    BillFactory(person=two, discharge_date=date(2023, 7, 2), admission_date=date(2023, 7, 1),
                status=BillStatus.REJECTED)
    members = services.person_burdens(household_ids=[household.pk])
    totals = services.household_burdens(household_ids=[household.pk])
    assert totals == {key: sum((b for _p, b in rows), Decimal("0.00")) for key, rows in members.items()}
    assert totals[(household.pk, 2023)] == sum((b.burden for b in Bill.objects.filter(person__household=household)),
                                               Decimal("0.00"))
    with CaptureQueriesContext(connection) as ctx:
        services.warnings_refresh(household_ids=[household.pk])
    bill_reads = [q["sql"] for q in ctx.captured_queries if 'FROM "claims_bill"' in q["sql"]]
    assert len(bill_reads) == 1, bill_reads


def test_issue_20_a_cold_chunk_creates_ledgers_buckets_and_adjustments_in_one_statement_each(world):
    """The chunk's new rows go by COPY (recalc.copy_create), not bulk_create's INSERT per batch with
    every value bound in Python: no INSERT of buckets or adjustments is sent, the ledgers arrive in ONE
    INSERT ... SELECT from the copied rows (ON CONFLICT DO NOTHING), and the rows are all there."""
    from claims.models import LedgerBucket, PersonYearLedger

    services.run_synchronously(full=True)
    expected = (sorted(PersonYearLedger.objects.values_list("person_id", "year", "total_assistance", "bills_counted")),
                sorted(LedgerBucket.objects.values_list("ledger__person_id", "ledger__year", "bucket", "cap", "used")))
    PersonYearLedger.objects.all().delete()  # derived data: rebuilt from the bills by the chunk below
    Bill.objects.filter(pk__in=[b.pk for b in world["bills"]]).update(
        status=BillStatus.HOSPITAL_PAID, hospital_assistance_paid=Decimal("1.00"))
    queries = _chunk_queries(world)
    inserts = [sql for sql in queries if sql.startswith("INSERT")]
    assert not [sql for sql in inserts if '"claims_ledgerbucket"' in sql or '"claims_paymentadjustment"' in sql], inserts
    ledger_inserts = [sql for sql in inserts if '"claims_personyearledger"' in sql]
    assert len(ledger_inserts) == 1 and "ON CONFLICT DO NOTHING" in ledger_inserts[0], ledger_inserts
    got = (sorted(PersonYearLedger.objects.values_list("person_id", "year", "total_assistance", "bills_counted")),
           sorted(LedgerBucket.objects.values_list("ledger__person_id", "ledger__year", "bucket", "cap", "used")))
    assert got == expected
    assert PaymentAdjustment.objects.filter(bill_id__in=[b.pk for b in world["bills"]]).count() == 3
    # a ledger created meanwhile is a conflict ignored, not an error
    recalc.copy_create(PersonYearLedger, [PersonYearLedger(person_id=world["alice"].pk, year=2023)], ignore_conflicts=True)
    assert PersonYearLedger.objects.filter(person_id=world["alice"].pk, year=2023).count() == 1
