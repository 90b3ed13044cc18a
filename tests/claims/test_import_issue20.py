"""Issue 20, the settlement import at a fraction of COPY: a new bill is inserted once with its
figures (computed before the insert by THE core), an unchanged re-import recomputes nothing, and
the figures are exactly what inserting first and recomputing — and the full nightly run — give."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from claims import recalc
from claims.imports import import_settlements
from claims.models import Bill, LedgerBucket, PaymentAdjustment, PersonYearLedger
from tests.claims.test_imports import csv_bytes, good_row
from tests.conftest import requires_postgres

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def core_calls(monkeypatch):
    """The calls of the recalculation core (``claims.recalc.recompute_chunk``), counted."""
    calls: list[dict] = []
    real = recalc.recompute_chunk

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(recalc, "recompute_chunk", counting)
    return calls


def _file(person, institution, n: int = 3, paid: str = "16000.00") -> bytes:
    day = date(2023, 3, 10)
    return csv_bytes(*(good_row(person, institution, no=f"U{i}", paid=paid,
                                admission_date=(day + timedelta(days=10 * i - 5)).isoformat(),
                                discharge_date=(day + timedelta(days=10 * i)).isoformat()) for i in range(n)))


def test_an_unchanged_re_import_recomputes_nothing(person, institution, core_calls):
    """Every row of the file is already imported with the same content and computed: the
    re-import calls the core not once and writes nothing (it counted and listed as before)."""
    data = _file(person, institution)
    first = import_settlements(data=data, file_name="s.csv")
    assert first.created == 3 and core_calls
    core_calls.clear()
    with CaptureQueriesContext(connection) as queries:
        again = import_settlements(data=data, file_name="s.csv")
    assert (again.created, again.unchanged, again.rejected) == (0, 3, 0)
    assert [d.to_json() for d in again.differences] == [d.to_json() for d in first.differences]
    assert core_calls == []
    writes = [q["sql"] for q in queries.captured_queries
              if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == []


def test_an_unchanged_row_of_a_bill_never_computed_is_still_recomputed(person, institution, core_calls):
    """The skip is for computed bills only: a bill left uncomputed (e.g. its person-year was
    skipped) is recomputed when its row comes again, as before."""
    data = _file(person, institution, n=1)
    import_settlements(data=data, file_name="s.csv")
    Bill.objects.update(computed_at=None)
    core_calls.clear()
    again = import_settlements(data=data, file_name="s.csv")
    assert again.unchanged == 1 and len(core_calls) == 1
    assert Bill.objects.get().computed_at is not None


@requires_postgres
def test_a_new_bill_is_written_once(person, institution, core_calls):
    """The figures are computed before the insert: the import INSERTs each new bill with them and
    never UPDATEs a bill it has just created (one pass of the fund pre-aggregate's triggers)."""
    with CaptureQueriesContext(connection) as queries:
        report = import_settlements(data=_file(person, institution), file_name="s.csv")
    assert report.created == 3 and len(report.differences) == 3
    updates = [q["sql"] for q in queries.captured_queries if 'UPDATE "claims_bill"' in q["sql"]]
    assert updates == []
    assert all(b.computed_at is not None and b.total_assistance > 0 for b in Bill.objects.all())
    assert PaymentAdjustment.objects.filter(status="open").count() == 3
    assert len(core_calls) == 1 and len(core_calls[0]["unsaved"]) == 3


def test_the_touched_person_years_are_recomputed_in_one_call_of_the_core(person, institution, district, core_calls):
    from tests.factories import PersonFactory

    others = [PersonFactory(hukou_district=district) for _ in range(3)]
    rows = [good_row(p, institution, no=f"P{i}{y}", admission_date=f"{y}-03-01", discharge_date=f"{y}-03-10")
            for i, p in enumerate([person, *others]) for y in (2023, 2024)]
    report = import_settlements(data=csv_bytes(*rows), file_name="s.csv")
    assert report.created == 8 and len(core_calls) == 1
    assert len(core_calls[0]["person_years"]) == 8


@requires_postgres
def test_a_refused_insert_falls_back_row_by_row_with_the_same_figures(person, institution, monkeypatch):
    """If the database refuses the computed insert (a settlement number taken meanwhile), the
    import takes the row-by-row path: the refused row is named, the others are kept and computed."""
    from claims import services

    data = _file(person, institution)
    real = services.bills_create_computed

    def refuse(**kwargs):
        # another import took U1 meanwhile: the computed insert fails, the savepoint rolls it back
        Bill.objects.create(person=person, district_id=person.hukou_district_id, institution=institution,
                            settlement_no="U1", visit_type="inpatient", admission_date=date(2023, 3, 15),
                            discharge_date=date(2023, 3, 20), total_cost=D("31000.00"),
                            policy_scope_cost=D("30000.00"), basic_paid=D("10000.00"))
        return real(**kwargs)

    monkeypatch.setattr(services, "bills_create_computed", refuse)
    report = import_settlements(data=data, file_name="s.csv", apply_good_rows=True)
    assert report.created == 2 and [(e.line, e.field) for e in report.errors] == [(3, "settlement_no")]
    assert Bill.objects.filter(computed_at__isnull=True).count() == 0
    assert _core_changes() == (0, 0, 0, 0)


def _snapshot() -> tuple:
    """Everything the import decides, by settlement number (not by id: the two paths' bills get
    different ids, and the engine's digest names the bill; that the digests are the engine's is
    what the nightly comparison checks)."""
    bills = sorted(Bill.objects.values_list(
        "settlement_no", "status", "policy_id", "assistance", "tilted", "special", "total_assistance", "category",
        "granted_amount", "hospital_assistance_paid"))
    uncomputed = Bill.objects.filter(computed_at__isnull=True).count()
    ledgers = sorted(PersonYearLedger.objects.values_list("person_id", "year", "deductible_used", "tilted_base",
                                                          "total_assistance", "bills_counted"))
    buckets = sorted(LedgerBucket.objects.values_list("ledger__person_id", "ledger__year", "bucket", "cap", "used"))
    adjustments = sorted(PaymentAdjustment.objects.values_list("bill__settlement_no", "kind", "amount", "status"))
    return bills, uncomputed, ledgers, buckets, adjustments


def _core_changes() -> tuple[int, int, int, int]:
    """What a full nightly recalculation of everyone (the core over the person range, no list of
    person-years) would still change: bills, ledgers, adjustments created, superseded."""
    ids = sorted(PersonYearLedger.objects.values_list("person_id", flat=True)) or [0]
    with transaction.atomic():
        done = recalc.recompute_chunk(lo=ids[0], hi=ids[-1])
        transaction.set_rollback(True)
    return done.bills_changed, done.ledgers_changed, done.adjustments_created, done.adjustments_superseded


ROWS = st.lists(st.tuples(st.integers(0, 1),  # which person (certified 低保 / not certified)
                          st.integers(0, 360),  # discharge day of 2023
                          st.sampled_from(["inpatient", "outpatient", "outpatient_special"]),
                          st.sampled_from(["800.00", "5000.00", "30000.00", "150000.00"]),  # burden
                          st.sampled_from(["", "0", "500.00", "12000.00"])),  # assistance_paid
                min_size=1, max_size=7)


@settings(max_examples=12, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=ROWS, split=st.integers(0, 7))
def test_imported_figures_equal_insert_then_recompute_and_the_nightly_run(person, district, institution, rows, split):
    """Property: for any file (imported in one or two goes), the figures, ledgers, buckets and
    adjustments of the write-once import are exactly those of inserting the bills first and
    recomputing them (the old path, kept as the fallback), and a full nightly recalculation
    afterwards finds nothing to change."""
    from tests.factories import PersonFactory

    with transaction.atomic():  # each example's rows are rolled back
        _property_example(person, PersonFactory(hukou_district=district), institution, rows, split)
        transaction.set_rollback(True)


def _property_example(person, other, institution, rows, split) -> None:
    people = [person, other]
    lines = []
    for i, (who, day, visit, burden, paid) in enumerate(rows):
        end = date(2023, 1, 1) + timedelta(days=day)
        scope = D(burden) + D("1000.00")
        lines.append(good_row(people[who], institution, no=f"H{i}", paid=paid, visit_type=visit,
                              admission_date=end.isoformat(), discharge_date=end.isoformat(),
                              total_cost=str(scope), policy_scope_cost=str(scope), basic_paid="1000.00"))
    files = [csv_bytes(*lines[:split]), csv_bytes(*lines[split:])] if 0 < split < len(lines) else [csv_bytes(*lines)]

    def run(write_once: bool) -> tuple:
        with transaction.atomic():
            with pytest.MonkeyPatch.context() as mp:
                if not write_once:
                    mp.setattr("claims.services.bills_create_computed", lambda **kw: None)
                reports = [import_settlements(data=f, file_name="s.csv") for f in files]
            found = (_snapshot(), [(r.created, r.unchanged, r.rejected, [(d.line, d.computed, d.paid)
                                                                        for d in r.differences]) for r in reports])
            changes = _core_changes()
            transaction.set_rollback(True)
        return found, changes

    once, once_changes = run(write_once=True)
    before, before_changes = run(write_once=False)
    assert once == before
    assert once_changes == before_changes == (0, 0, 0, 0)
    assert sum(r[0] for r in once[1]) == len(rows)
