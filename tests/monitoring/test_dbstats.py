"""Planner statistics are refreshed after bulk writes (issue 20: ANALYZE after every run that
changes a large share of rows; a stale plan once made a caseworker's bill list take 6.3 s)."""
from __future__ import annotations

from types import SimpleNamespace

from claims.models import Bill
from monitoring import services
from organizations import dbstats
from organizations.dbstats import estimated_rows, refresh_statistics
from tests.conftest import requires_postgres


def test_refresh_statistics_is_a_no_op_outside_postgresql(db, monkeypatch):
    monkeypatch.setattr(dbstats, "connection", SimpleNamespace(vendor="sqlite"))
    assert refresh_statistics({Bill: 1_000_000}) == []


@requires_postgres
def test_a_full_nightly_run_leaves_the_bill_statistics_current(world):
    """After a full run that rewrote the bills' figures, the planner's row estimate of the bills
    table is the real count: a filter on those figures is planned from current statistics."""
    Bill.objects.update(total_assistance=0, assistance=0, computation_digest="")  # figures to rewrite
    run = services.run_synchronously(full=True)
    assert run.status == "succeeded"
    assert run.bills_changed > 0
    assert estimated_rows(Bill._meta.db_table) == Bill.objects.count()


@requires_postgres
def test_a_small_share_of_a_table_does_not_analyse_it(world):
    assert refresh_statistics({Bill: 1}) == [Bill._meta.db_table]  # never analysed: always
    assert refresh_statistics({Bill: 1}, min_rows=10_000, share=0.5) == []  # 1 of 3 rows < 50 %
    assert refresh_statistics({Bill: 2}, min_rows=10_000, share=0.5) == [Bill._meta.db_table]
    assert refresh_statistics({Bill: 0}) == []
