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


def _bill_list_plan(client, params: dict) -> str:
    """EXPLAIN of the page query the bill list really sent (the statement as executed)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("claims:bills"), params).status_code == 200
    page = [q["sql"] for q in ctx.captured_queries if 'FROM "claims_bill"' in q["sql"] and "LIMIT 51" in q["sql"]]
    assert page, "the bill list's page query"
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + page[0])
        return "\n".join(row[0] for row in cursor.fetchall())


@requires_postgres
def test_issue_20_the_bill_list_plan_stays_index_bound_after_a_full_nightly_run(world, client, caseworker):
    """Issue 20, statistics kept current: the planner last saw the bills table with 3 rows
    (ANALYZE), then 6,000 bills arrived; after the full nightly run that computed them, a
    caseworker's bill list (page 1 and a deep keyset page) is planned on an
    index over the bills, never a scan of the whole table (after a stale plan this once took
    6.3 s for a caseworker and over 60 s city-wide)."""
    import re
    from datetime import date, timedelta

    from django.db import connection

    from tests.factories import CertificationFactory, PersonFactory, category

    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "claims_bill"')
    template = world["bills"][0]
    people = [world["bob"], world["carol"]]
    for _ in range(58):  # beneficiaries, so that many of the new bills get assistance
        person = PersonFactory(hukou_district=world["alice"].hukou_district)
        CertificationFactory(person=person, category=category("minimum_living"), valid_from=date(2020, 1, 1))
        people.append(person)
    bill = Bill.objects.get(pk=template.pk)
    fresh = []
    for i in range(6000):
        clone = Bill(**{f.attname: getattr(bill, f.attname) for f in Bill._meta.concrete_fields if f.attname != "id"})
        clone.person_id = people[i % len(people)].pk
        clone.settlement_no = f"PLAN{i:05d}"
        clone.discharge_date = clone.admission_date = template.discharge_date - timedelta(days=i % 700)
        clone.computed_at, clone.total_assistance, clone.assistance = None, 0, 0  # figures still to compute
        fresh.append(clone)
    Bill.objects.bulk_create(fresh, batch_size=2000)
    run = services.run_synchronously(full=True)
    assert run.status == "succeeded", run.errors
    client.force_login(caseworker)
    deep = Bill.objects.order_by("-discharge_date", "-id")[4000]
    for params in ({}, {"after": f"{deep.discharge_date.isoformat()}_{deep.pk}"}):
        plan = _bill_list_plan(client, params)
        assert "Seq Scan on claims_bill" not in plan, (params, plan)
        assert "Index" in plan and "claims_bill" in plan, (params, plan)
    # the amount filter is planned from the figures the run wrote, not from the all-zero ones
    # the planner last saw (the 120-million-row join came from an estimate of ~0 rows)
    wanted = Bill.objects.filter(total_assistance__gte=100).count()
    assert wanted > 500
    with connection.cursor() as cursor:
        cursor.execute('EXPLAIN SELECT id FROM "claims_bill" WHERE total_assistance >= 100')
        estimate = int(re.search(r"rows=(\d+)", cursor.fetchone()[0]).group(1))
    assert wanted / 3 <= estimate <= wanted * 3, (estimate, wanted)
