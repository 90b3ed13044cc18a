# ruff: noqa: S608  (the SQL is built from constants: column names, claims.money status sets, settings.TIME_ZONE)
"""The fund pre-aggregate (基金支出预汇总, issue 20): ``reports.FundMonth``.

One row per district × year × month × category × visit class × visit type × person, holding the
granted amount (in fen, exact), the number of bills (or decided applications) behind it and the
bills' cost parts in fen (:data:`BILL_PARTS`: total, in-scope, basic, critical-illness, other — what
the three-tier report by category sums; 0 for relief on application):
exactly what :func:`reports.reporting.fund_expenditure` used to sum by scanning the bills through
``claims.money`` — ``bills_for_report`` + ``granted_expr`` by discharge month, and
``applications_granted`` (relief on application) by decision month in the local time zone.

**Kept current in the same transaction as every change of money, by the database itself.** Every
write of a bill or an application goes through one of these triggers, whoever issues it: the
recalculation core (``claims.recalc.fast_update``: COPY + ``UPDATE … FROM``, or ``bulk_update``),
approvals, rejections, payments, withdrawals, corrections, imports (COPY), the ORM's ``save`` and
``QuerySet.update``, raw SQL, deletes (cascades too). So no path can be missed:

- PostgreSQL: statement-level ``AFTER`` triggers with transition tables (``REFERENCING OLD TABLE
  … NEW TABLE``): one set-based ``INSERT … ON CONFLICT DO UPDATE`` per statement from the
  old→new differences (a chunk of 10,000 bills is one upsert of its net deltas, not one per bill);
- SQLite (tests, development): row-level triggers with the same arithmetic.

A row is keyed by person, so two transactions only ever touch the same aggregate row when they
change the same person's money (already serialized by the person-year ledger lock): no hot rows,
no lock waits between nightly workers and approvals, and 救助人数 (distinct people) is exact.

The statuses and conditions below are ``claims.money``'s (``REPORT_STATUSES``, granted > 0,
``RELIEF_GRANTED_STATUSES``, relief > 0); a change to those sets needs a migration that calls
:func:`install` again — and the conservation test (``tests/reports/test_fund_aggregate.py``) and
``manage.py reports_aggregate_check`` (also run by every nightly chunk for its people) fail until it does.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, connections, transaction

logger = logging.getLogger(__name__)

TABLE = "reports_fundmonth"
KEY_COLUMNS = ("district_id", "year", "month", "category", "visit_class", "visit_type", "person_id")
# relief on application (依申请救助): its own rows (reports.reporting uses the same names)
RELIEF_CATEGORY = "illness_poverty_patient"
RELIEF_VISIT_CLASS = "relief_on_application"

DISTRICT_TABLE = "reports_funddistrictmonth"
DISTRICT_KEYS = KEY_COLUMNS[:6]  # the person level's key without the person

# The bills' cost parts (三重制度保障构成, the three-tier report by category), in fen, beside the
# granted amount: fen column → bill column. Relief on application carries 0 in each.
BILL_PARTS = (("total_fen", "total_cost"), ("scope_fen", "policy_scope_cost"), ("basic_fen", "basic_paid"),
              ("critical_fen", "critical_paid"), ("other_fen", "other_paid"))
PART_COLUMNS = tuple(c for c, _ in BILL_PARTS)
# Every figure of a person-level row, in this order (``scan``/``stored`` values, ``Difference``)
VALUE_COLUMNS = ("amount_fen", "bills", *PART_COLUMNS)
ZEROS = (0,) * len(VALUE_COLUMNS)

Key = tuple[int, int, int, str, str, str, int]
Values = tuple[int, ...]  # VALUE_COLUMNS
MAX_PEOPLE_FILTER = 20_000


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values))


def _conditions() -> tuple[str, str]:
    from claims import money

    return _sql_list(money.REPORT_STATUSES), _sql_list(money.RELIEF_GRANTED_STATUSES)


# --------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------


def _pg_bill_select(alias: str, sign: str, report: str) -> str:
    parts = ", ".join(f"{sign}({alias}.{field} * 100)::bigint AS {col}" for col, field in BILL_PARTS)
    return f"""SELECT {alias}.district_id, EXTRACT(YEAR FROM {alias}.discharge_date)::int AS year,
               EXTRACT(MONTH FROM {alias}.discharge_date)::int AS month,
               COALESCE({alias}.computation ->> 'category', '') AS category,
               COALESCE({alias}.computation ->> 'visit_class', '') AS visit_class,
               {alias}.visit_type, {alias}.person_id,
               {sign}(COALESCE({alias}.granted_amount, {alias}.total_assistance) * 100)::bigint AS fen,
               {sign}1 AS n, {parts}
        FROM {{rows}} AS {alias}
        WHERE {alias}.status IN ({report}) AND COALESCE({alias}.granted_amount, {alias}.total_assistance) > 0"""


def _pg_app_select(alias: str, sign: str, relief: str) -> str:
    tz = settings.TIME_ZONE.replace("'", "''")
    parts = ", ".join(f"0::bigint AS {col}" for col in PART_COLUMNS)
    return f"""SELECT {alias}.district_id,
               EXTRACT(YEAR FROM {alias}.decided_at AT TIME ZONE '{tz}')::int AS year,
               EXTRACT(MONTH FROM {alias}.decided_at AT TIME ZONE '{tz}')::int AS month,
               '{RELIEF_CATEGORY}'::varchar AS category, '{RELIEF_VISIT_CLASS}'::varchar AS visit_class,
               ''::varchar AS visit_type, {alias}.applicant_id AS person_id,
               {sign}({alias}.relief * 100)::bigint AS fen, {sign}1 AS n, {parts}
        FROM {{rows}} AS {alias}
        WHERE {alias}.status IN ({relief}) AND {alias}.relief > 0 AND {alias}.decided_at IS NOT NULL"""


def _sums(columns: tuple[str, ...] = PART_COLUMNS) -> str:
    return "".join(f", SUM({c})" for c in columns)


def _any_nonzero(columns: tuple[str, ...] = PART_COLUMNS) -> str:
    return "".join(f" OR SUM({c}) <> 0" for c in columns)


def _pg_upsert(deltas: str) -> str:
    keys = ", ".join(KEY_COLUMNS)
    parts = ", ".join(PART_COLUMNS)
    added = "".join(f", {c} = f.{c} + EXCLUDED.{c}" for c in PART_COLUMNS)
    return f"""INSERT INTO {TABLE} AS f ({keys}, amount_fen, bills, {parts})
        SELECT {keys}, SUM(fen), SUM(n){_sums()} FROM ({deltas}) AS d
        GROUP BY {keys} HAVING SUM(fen) <> 0 OR SUM(n) <> 0{_any_nonzero()} ORDER BY {keys}
        ON CONFLICT ({keys}) DO UPDATE SET amount_fen = f.amount_fen + EXCLUDED.amount_fen,
                                           bills = f.bills + EXCLUDED.bills{added}"""


def _pg_function(name: str, select) -> str:
    plus_new = select("n", "+").replace("{rows}", "new_rows")
    minus_old = select("o", "-").replace("{rows}", "old_rows")
    return f"""CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_upsert(plus_new)};
    ELSIF TG_OP = 'DELETE' THEN
        {_pg_upsert(minus_old)};
    ELSE
        {_pg_upsert(plus_new + " UNION ALL " + minus_old)};
    END IF;
    RETURN NULL;
END
$fn$"""


def _pg_triggers(table: str, function: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {function}_ins ON {table}",
        f"DROP TRIGGER IF EXISTS {function}_upd ON {table}",
        f"DROP TRIGGER IF EXISTS {function}_del ON {table}",
        f"CREATE TRIGGER {function}_ins AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_upd AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {function}_del AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _pg_district_function() -> str:
    """The second level from the first: every statement that changes ``reports_fundmonth`` appends
    its net difference per district line (amount, bills, people with bills > 0) to
    ``reports_funddistrictmonth``; only INSERTs, so concurrent writers never wait on each other."""
    keys = ", ".join(DISTRICT_KEYS)
    parts = ", ".join(PART_COLUMNS)

    def rows(alias: str, sign: str) -> str:
        signed = "".join(f", {sign}{c} AS {c}" for c in PART_COLUMNS)
        return (f"SELECT {keys}, {sign}amount_fen AS fen, {sign}bills AS n, "
                f"{sign}(CASE WHEN bills > 0 THEN 1 ELSE 0 END) AS p{signed} FROM {alias}")

    def append(source: str) -> str:
        return (f"INSERT INTO {DISTRICT_TABLE} ({keys}, amount_fen, bills, people, {parts}) "
                f"SELECT {keys}, SUM(fen), SUM(n), SUM(p){_sums()} FROM ({source}) AS d GROUP BY {keys} "
                f"HAVING SUM(fen) <> 0 OR SUM(n) <> 0 OR SUM(p) <> 0{_any_nonzero()}")

    return f"""CREATE OR REPLACE FUNCTION reports_fund_districts() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {append(rows("new_rows", "+"))};
    ELSIF TG_OP = 'DELETE' THEN
        {append(rows("old_rows", "-"))};
    ELSE
        {append(rows("new_rows", "+") + " UNION ALL " + rows("old_rows", "-"))};
    END IF;
    RETURN NULL;
END
$fn$"""


def _sqlite_district_triggers() -> list[str]:
    keys = ", ".join(DISTRICT_KEYS)

    parts = ", ".join(PART_COLUMNS)

    def append(r: str, sign: str) -> str:
        values = ", ".join(f"{r}.{k}" for k in DISTRICT_KEYS)
        signed = "".join(f", {sign}{r}.{c}" for c in PART_COLUMNS)
        nonzero = "".join(f" OR {r}.{c} <> 0" for c in PART_COLUMNS)
        return (f"INSERT INTO {DISTRICT_TABLE} ({keys}, amount_fen, bills, people, {parts}) SELECT {values}, "
                f"{sign}{r}.amount_fen, {sign}{r}.bills, {sign}(CASE WHEN {r}.bills > 0 THEN 1 ELSE 0 END){signed} "
                f"WHERE {r}.amount_fen <> 0 OR {r}.bills <> 0{nonzero};")

    prefix = "reports_fund_districts"
    return [
        f"DROP TRIGGER IF EXISTS {prefix}_ins",
        f"DROP TRIGGER IF EXISTS {prefix}_upd",
        f"DROP TRIGGER IF EXISTS {prefix}_del",
        f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {TABLE} BEGIN {append('NEW', '+')} END",
        f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {TABLE} BEGIN {append('OLD', '-')} {append('NEW', '+')} END",
        f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {TABLE} BEGIN {append('OLD', '-')} END",
    ]


def district_trigger_statements(vendor: str) -> list[str]:
    """The SQL that installs (or reinstalls) the second level's triggers on ``reports_fundmonth``."""
    if vendor == "postgresql":
        return [_pg_district_function(), *_pg_triggers(TABLE, "reports_fund_districts")]
    if vendor == "sqlite":
        return _sqlite_district_triggers()
    raise NotImplementedError(f"fund pre-aggregate triggers for {vendor}")


def district_backfill_statements() -> list[str]:
    """Raw SQL (both databases) that rewrites the second level from the first."""
    keys = ", ".join(DISTRICT_KEYS)
    parts = ", ".join(PART_COLUMNS)
    return [f"DELETE FROM {DISTRICT_TABLE}",
            f"INSERT INTO {DISTRICT_TABLE} ({keys}, amount_fen, bills, people, {parts}) "
            f"SELECT {keys}, SUM(amount_fen), SUM(bills), SUM(CASE WHEN bills > 0 THEN 1 ELSE 0 END){_sums()} FROM {TABLE} "
            f"GROUP BY {keys} HAVING SUM(amount_fen) <> 0 OR SUM(bills) <> 0{_any_nonzero()}"]


def _sqlite_bill_values(r: str, sign: str) -> list[str]:
    return [f"{r}.district_id", f"CAST(strftime('%Y', {r}.discharge_date) AS INTEGER)",
            f"CAST(strftime('%m', {r}.discharge_date) AS INTEGER)",
            f"COALESCE(json_extract({r}.computation, '$.category'), '')",
            f"COALESCE(json_extract({r}.computation, '$.visit_class'), '')", f"{r}.visit_type", f"{r}.person_id",
            f"{sign}CAST(ROUND(COALESCE({r}.granted_amount, {r}.total_assistance) * 100) AS INTEGER)", f"{sign}1",
            *(f"{sign}CAST(ROUND({r}.{field} * 100) AS INTEGER)" for _, field in BILL_PARTS)]


def _sqlite_bill_when(r: str, report: str) -> str:
    return f"{r}.status IN ({report}) AND COALESCE({r}.granted_amount, {r}.total_assistance) > 0"


def _sqlite_app_values(r: str, sign: str) -> list[str]:
    tz = settings.TIME_ZONE.replace("'", "''")
    # Django's own SQLite function (registered on every connection): the local-time year/month,
    # the same as ``decided_at__year`` in a queryset.
    return [f"{r}.district_id", f"django_datetime_extract('year', {r}.decided_at, '{tz}', 'UTC')",
            f"django_datetime_extract('month', {r}.decided_at, '{tz}', 'UTC')",
            f"'{RELIEF_CATEGORY}'", f"'{RELIEF_VISIT_CLASS}'", "''", f"{r}.applicant_id",
            f"{sign}CAST(ROUND({r}.relief * 100) AS INTEGER)", f"{sign}1", *("0" for _ in PART_COLUMNS)]


def _sqlite_app_when(r: str, relief: str) -> str:
    return f"{r}.status IN ({relief}) AND {r}.relief > 0 AND {r}.decided_at IS NOT NULL"


def _sqlite_upsert(values: list[str], when: str) -> str:
    keys = ", ".join(KEY_COLUMNS)
    parts = ", ".join(PART_COLUMNS)
    added = "".join(f", {c} = {c} + excluded.{c}" for c in PART_COLUMNS)
    return (f"INSERT INTO {TABLE} ({keys}, amount_fen, bills, {parts}) SELECT {', '.join(values)} WHERE {when} "
            f"ON CONFLICT ({keys}) DO UPDATE SET amount_fen = amount_fen + excluded.amount_fen, "
            f"bills = bills + excluded.bills{added};")


def _sqlite_triggers(table: str, prefix: str, values, when) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {prefix}_ins",
        f"DROP TRIGGER IF EXISTS {prefix}_upd",
        f"DROP TRIGGER IF EXISTS {prefix}_del",
        f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {table} BEGIN "
        f"{_sqlite_upsert(values('NEW', '+'), when('NEW'))} END",
        f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {table} BEGIN "
        f"{_sqlite_upsert(values('OLD', '-'), when('OLD'))} "
        f"{_sqlite_upsert(values('NEW', '+'), when('NEW'))} END",
        f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {table} BEGIN "
        f"{_sqlite_upsert(values('OLD', '-'), when('OLD'))} END",
    ]


def trigger_statements(vendor: str) -> list[str]:
    """The SQL that installs (or reinstalls) the triggers on ``claims_bill`` and
    ``applications_application``."""
    report, relief = _conditions()
    if vendor == "postgresql":
        return [
            _pg_function("reports_fund_bills", lambda a, s: _pg_bill_select(a, s, report)),
            *_pg_triggers("claims_bill", "reports_fund_bills"),
            _pg_function("reports_fund_apps", lambda a, s: _pg_app_select(a, s, relief)),
            *_pg_triggers("applications_application", "reports_fund_apps"),
        ]
    if vendor == "sqlite":
        return [
            *_sqlite_triggers("claims_bill", "reports_fund_bills", _sqlite_bill_values,
                              lambda r: _sqlite_bill_when(r, report)),
            *_sqlite_triggers("applications_application", "reports_fund_apps", _sqlite_app_values,
                              lambda r: _sqlite_app_when(r, relief)),
        ]
    raise NotImplementedError(f"fund pre-aggregate triggers for {vendor}")


def uninstall_statements(vendor: str, *, districts: bool = True) -> list[str]:
    out = []
    pairs = [("claims_bill", "reports_fund_bills"), ("applications_application", "reports_fund_apps")]
    if districts:
        pairs += [(TABLE, "reports_fund_districts"), (TABLE, "reports_fund_people")]
    for table, prefix in pairs:
        for op in ("ins", "upd", "del"):
            out.append(f"DROP TRIGGER IF EXISTS {prefix}_{op}" + (f" ON {table}" if vendor == "postgresql" else ""))
        if vendor == "postgresql":
            out.append(f"DROP FUNCTION IF EXISTS {prefix}()")
    return out


def backfill_statements(vendor: str) -> list[str]:
    """Raw SQL that fills the (empty) table from the bills and applications, the triggers'
    arithmetic over whole tables (migrations use it: no model code, so later model changes cannot
    break the migration)."""
    report, relief = _conditions()
    keys = ", ".join(KEY_COLUMNS)
    if vendor == "postgresql":
        rows = (_pg_bill_select("n", "+", report).replace("{rows}", "claims_bill") + " UNION ALL "
                + _pg_app_select("n", "+", relief).replace("{rows}", "applications_application"))
    else:
        names = (*KEY_COLUMNS, "fen", "n", *PART_COLUMNS)

        def select(values: list[str], table: str, when: str) -> str:
            cols = ", ".join(f"{v} AS {c}" for v, c in zip(values, names, strict=True))
            return f"SELECT {cols} FROM {table} AS NEW WHERE {when}"

        rows = (select(_sqlite_bill_values("NEW", "+"), "claims_bill", _sqlite_bill_when("NEW", report)) + " UNION ALL "
                + select(_sqlite_app_values("NEW", "+"), "applications_application", _sqlite_app_when("NEW", relief)))
    parts = ", ".join(PART_COLUMNS)
    return [f"DELETE FROM {TABLE}",
            f"INSERT INTO {TABLE} ({keys}, amount_fen, bills, {parts}) SELECT {keys}, SUM(fen), SUM(n){_sums()} "
            f"FROM ({rows}) AS d GROUP BY {keys} HAVING SUM(fen) <> 0 OR SUM(n) <> 0{_any_nonzero()}"]


def install_person_level(schema_editor=None) -> None:
    """(Re)install the bill and application triggers and refill ``reports_fundmonth`` (migration
    0003; the second level, when installed, follows the refill through its own triggers)."""
    conn = schema_editor.connection if schema_editor is not None else connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("LOCK TABLE claims_bill, applications_application IN SHARE MODE")
        for sql in trigger_statements(conn.vendor) + backfill_statements(conn.vendor):
            cursor.execute(sql)


def install_district_level(schema_editor=None) -> None:
    """(Re)install the second level's triggers on ``reports_fundmonth`` and rewrite
    ``reports_funddistrictmonth`` from it (migration 0004)."""
    conn = schema_editor.connection if schema_editor is not None else connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE claims_bill, applications_application, {TABLE} IN SHARE MODE")
        for sql in district_trigger_statements(conn.vendor) + district_backfill_statements():
            cursor.execute(sql)


def install(schema_editor=None) -> None:
    """(Re)install every trigger and refill both levels from the bills, in one transaction (what a
    migration changing ``claims.money``'s status sets calls)."""
    conn = schema_editor.connection if schema_editor is not None else connection
    with transaction.atomic(using=conn.alias):
        # the district and people levels are rewritten below: their (possibly older) triggers must
        # not see the refill
        uninstall_district_level(schema_editor)
        uninstall_people_level(schema_editor)
        install_person_level(schema_editor)
        install_district_level(schema_editor)
        install_people_level(schema_editor)


def uninstall(schema_editor=None) -> None:
    conn = schema_editor.connection if schema_editor is not None else connection
    with conn.cursor() as cursor:
        for sql in uninstall_statements(conn.vendor):
            cursor.execute(sql)


def _drop_level_triggers(name: str, schema_editor=None) -> None:
    """Drop the triggers ``<name>_ins/upd/del`` on the person level (and, on PostgreSQL, their
    function ``<name>()``)."""
    conn = schema_editor.connection if schema_editor is not None else connection
    with conn.cursor() as cursor:
        for op in ("ins", "upd", "del"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}_{op}" + (f" ON {TABLE}" if conn.vendor == "postgresql" else ""))
        if conn.vendor == "postgresql":
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


def uninstall_district_level(schema_editor=None) -> None:
    _drop_level_triggers("reports_fund_districts", schema_editor)


# --------------------------------------------------------------------------------------------
# The scan (what the table must hold), comparison and repair
# --------------------------------------------------------------------------------------------


def _fen(amount: Any) -> int:
    return int((Decimal(amount or 0) * 100).to_integral_value())


def _text(value: str | None) -> str:
    """A key read from the computation, as PostgreSQL's ``->>`` gives it: '' for a missing key or
    JSON null (Django's SQLite KeyTextTransform reports JSON null as the text 'null')."""
    return "" if value is None or (value == "null" and connection.vendor == "sqlite") else value


Range = tuple[int | None, int | None]  # person ids lo..hi, both ends included; None: unbounded


def _scan_querysets(using: str, person_ids: Collection[int] | None, *, by_person: bool = True,
                    person_range: Range | None = None):
    """The two grouped querysets :func:`scan` reads (bills by discharge month, granted
    applications by decision month), through ``claims.money``; also compiled to SQL by
    :func:`_compare_sql`, so both comparisons read the same definition."""
    from django.db.models import Count, Sum
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import ExtractMonth, ExtractYear

    from applications.models import Application
    from claims import money
    from claims.models import Bill

    bill_qs = Bill.objects.using(using).all()
    app_qs = Application.objects.using(using).filter(decided_at__isnull=False)
    if person_ids is not None:
        bill_qs, app_qs = bill_qs.filter(person_id__in=person_ids), app_qs.filter(applicant_id__in=person_ids)
    if person_range is not None:
        lo, hi = person_range
        if lo is not None:
            bill_qs, app_qs = bill_qs.filter(person_id__gte=lo), app_qs.filter(applicant_id__gte=lo)
        if hi is not None:
            bill_qs, app_qs = bill_qs.filter(person_id__lte=hi), app_qs.filter(applicant_id__lte=hi)
    bills = money.bills_for_report(bill_qs).annotate(
        r_category=KeyTextTransform("category", "computation"),
        r_visit_class=KeyTextTransform("visit_class", "computation"),
        r_year=ExtractYear("discharge_date"), r_month=ExtractMonth("discharge_date"),
    ).values("district_id", "r_year", "r_month", "r_category", "r_visit_class", "visit_type",
             *(["person_id"] if by_person else [])).annotate(
        amount=Sum(money.granted_expr()), n=Count("id"), **{col: Sum(field) for col, field in BILL_PARTS}).order_by()
    apps = money.applications_granted(app_qs).annotate(
        r_year=ExtractYear("decided_at"), r_month=ExtractMonth("decided_at"),
    ).values("district_id", "r_year", "r_month", *(["applicant_id"] if by_person else [])).annotate(
        amount=Sum("relief"), n=Count("id")).order_by()
    return bills, apps



def scan(using: str = "default", person_ids: Collection[int] | None = None,
         person_range: Range | None = None) -> dict[Key, Values]:
    """What the pre-aggregate must hold, computed the slow way: the bills through
    ``claims.money`` (``bills_for_report``, ``granted_expr``) by discharge month and the granted
    applications (``applications_granted``) by decision month — the old per-request scan."""
    out: dict[Key, list[int]] = defaultdict(lambda: list(ZEROS))
    bills, apps = _scan_querysets(using, person_ids, person_range=person_range)
    for g in bills:
        key = (g["district_id"], g["r_year"], g["r_month"], _text(g["r_category"]), _text(g["r_visit_class"]),
               g["visit_type"], g["person_id"])
        for i, value in enumerate((_fen(g["amount"]), g["n"], *(_fen(g[c]) for c in PART_COLUMNS))):
            out[key][i] += value
    for g in apps:
        key = (g["district_id"], g["r_year"], g["r_month"], RELIEF_CATEGORY, RELIEF_VISIT_CLASS, "", g["applicant_id"])
        out[key][0] += _fen(g["amount"])
        out[key][1] += g["n"]
    return {k: tuple(v) for k, v in out.items() if tuple(v) != ZEROS}


def stored(using: str = "default", person_ids: Collection[int] | None = None,
           person_range: Range | None = None) -> dict[Key, Values]:
    """What the pre-aggregate holds (rows that net to nothing left out)."""
    from .models import FundMonth

    qs = FundMonth.objects.using(using).exclude(**dict.fromkeys(VALUE_COLUMNS, 0))
    if person_ids is not None:
        qs = qs.filter(person_id__in=person_ids)
    if person_range is not None:
        if person_range[0] is not None:
            qs = qs.filter(person_id__gte=person_range[0])
        if person_range[1] is not None:
            qs = qs.filter(person_id__lte=person_range[1])
    return {tuple(r[:7]): tuple(r[7:])  # type: ignore[misc]
            for r in qs.values_list(*KEY_COLUMNS, *VALUE_COLUMNS)}


def _parts_text(stored: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """The cost parts (the tail of both tuples) that differ, e.g. ``; total_fen 500 ≠ 400``."""
    n = len(PART_COLUMNS)
    return "".join(f"; {c} stored {s} fen, expected {e} fen"
                   for c, s, e in zip(PART_COLUMNS, stored[-n:], expected[-n:], strict=True) if s != e)


@dataclass
class Difference:
    key: Key
    stored: Values  # VALUE_COLUMNS: (fen, bills, total, scope, basic, critical, other fen)
    expected: Values

    def __str__(self) -> str:
        d, y, m, cat, vc, vt, p = self.key
        return (f"district={d} {y}-{m:02d} category={cat!r} visit_class={vc!r} visit_type={vt!r} person={p}: "
                f"stored {Decimal(self.stored[0]) / 100:.2f} / {self.stored[1]} bills, "
                f"bills say {Decimal(self.expected[0]) / 100:.2f} / {self.expected[1]} bills"
                f"{_parts_text(self.stored, self.expected)}")


@dataclass
class DistrictDifference(Difference):
    """A line of the second level (``reports_funddistrictmonth``) that differs from the sum of the
    first level's rows; ``stored``/``expected`` are (fen, bills, people, *PART_COLUMNS)."""

    def __str__(self) -> str:
        d, y, m, cat, vc, vt, _p = self.key
        return (f"district level: district={d} {y}-{m:02d} category={cat!r} visit_class={vc!r} visit_type={vt!r}: "
                f"stored {Decimal(self.stored[0]) / 100:.2f} / {self.stored[1]} bills / {self.stored[2]} people, "
                f"person level says {Decimal(self.expected[0]) / 100:.2f} / {self.expected[1]} bills / "
                f"{self.expected[2]} people{_parts_text(self.stored, self.expected)}")


def compare_districts(using: str = "default") -> list[DistrictDifference]:
    """Every line where the second level (the sum of its delta rows) differs from the first
    level's rows summed (amount, bills, people with bills > 0); one statement, both databases."""
    keys = ", ".join(DISTRICT_KEYS)
    names = ("amount_fen", "bills", "people", *PART_COLUMNS)
    person_level = ("amount_fen", "bills", "CASE WHEN bills > 0 THEN 1 ELSE 0 END", *PART_COLUMNS)
    zeros = ", ".join("0" for _ in names)
    sums = ", ".join(f"SUM(s_{c})" for c in names) + ", " + ", ".join(f"SUM(e_{c})" for c in names)
    sql = f"""
        SELECT {keys}, {sums} FROM (
            SELECT {keys}, {", ".join(f"{c} AS s_{c}" for c in names)}, {", ".join(f"0 AS e_{c}" for c in names)}
            FROM {DISTRICT_TABLE}
            UNION ALL
            SELECT {keys}, {zeros}, {", ".join(person_level)} FROM {TABLE}
        ) u
        GROUP BY {keys}
        HAVING {" OR ".join(f"SUM(s_{c}) <> SUM(e_{c})" for c in names)}"""
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    n = len(names)
    found = [DistrictDifference(tuple(r[:6]) + (None,),  # type: ignore[arg-type]
                                tuple(int(v) for v in r[6:6 + n]), tuple(int(v) for v in r[6 + n:6 + 2 * n]))
             for r in rows]
    return sorted(found, key=lambda d: str(d.key))


def compact(using: str = "default", year: int | None = None) -> int:
    """Fold the second and third levels' delta rows into one row per line (``year``: that year's
    only); the figures are unchanged. Lines that net to nothing disappear. Safe beside writers (their new
    rows are not in the statement's snapshot and stay) and beside another compaction (PostgreSQL:
    one at a time, by an advisory lock; the other returns). Returns the rows removed."""
    conn = connections[using]
    with transaction.atomic(using=using), conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", [DISTRICT_TABLE])
            if not cursor.fetchone()[0]:
                return 0
        removed = _fold(cursor, conn.vendor, DISTRICT_TABLE, DISTRICT_KEYS, ("amount_fen", "bills", "people", *PART_COLUMNS),
                        year)
        return removed + _fold(cursor, conn.vendor, PEOPLE_TABLE, PEOPLE_KEYS, ("people",), year)


def _fold(cursor, vendor: str, table: str, key_columns: tuple[str, ...], figures: tuple[str, ...],
          year: int | None) -> int:
    keys = ", ".join(key_columns)
    columns, sums = ", ".join(figures), ", ".join(f"SUM({c})" for c in figures)
    nonzero = " OR ".join(f"SUM({c}) <> 0" for c in figures)
    where, params = ("WHERE year = %s", [year]) if year is not None else ("", [])
    if vendor == "postgresql":
        cursor.execute(f"""
            WITH gone AS (DELETE FROM {table} {where} RETURNING {keys}, {columns}),
            kept AS (INSERT INTO {table} ({keys}, {columns})
                     SELECT {keys}, {sums} FROM gone GROUP BY {keys}
                     HAVING {nonzero} RETURNING 1)
            SELECT (SELECT COUNT(*) FROM gone) - (SELECT COUNT(*) FROM kept)""", params)
        return int(cursor.fetchone()[0])
    cursor.execute(f"SELECT {keys}, {sums}, COUNT(*) FROM {table} {where} GROUP BY {keys}", params)
    lines = cursor.fetchall()
    cursor.execute(f"DELETE FROM {table} {where}", params)
    width = len(key_columns) + len(figures)
    kept = [r[:width] for r in lines if any(r[len(key_columns):width])]
    cursor.executemany(f"INSERT INTO {table} ({keys}, {columns}) VALUES ({', '.join(['%s'] * width)})", kept)
    return sum(r[width] for r in lines) - len(kept)


def compare(using: str = "default", person_ids: Collection[int] | None = None, *,
            totals_first: bool = False, person_range: Range | None = None) -> list[Difference]:
    """Every key where the pre-aggregate differs from the scan (empty: they agree to the fen);
    ``person_ids``: only these people's rows (an incremental run's chunk); ``person_range``
    (lo, hi), either end None for unbounded: only the rows of person ids in it (a full run's chunk).

    ``totals_first`` (everyone, PostgreSQL; the nightly chunks compare person by person): compare the totals per
    district × month × category × visit class × visit type first — what every report line sums —
    and go down to people only when a total differs. A fault that moved money between two people
    of the same line without changing it is left to the per-person check (``manage.py
    reports_aggregate_check``, the incremental runs, the conservation test)."""
    conn = connections[using]
    if person_ids is not None and len(person_ids) > MAX_PEOPLE_FILTER:
        person_ids = None  # a long IN list costs more than the whole scan
    if conn.vendor == "postgresql":
        if (totals_first and person_ids is None and person_range is None
                and not _compare_sql(using, None, by_person=False)):
            return []
        return _compare_sql(using, person_ids, person_range=person_range)  # one statement: one snapshot
    return compare_in_python(using, person_ids, person_range=person_range)


def compare_in_python(using: str = "default", person_ids: Collection[int] | None = None,
                      person_range: Range | None = None) -> list[Difference]:
    """:func:`compare` the slow way on every database: both sides read into Python (the
    reference the PostgreSQL comparison is tested against)."""
    expected, have = scan(using, person_ids, person_range), stored(using, person_ids, person_range)
    zero = ZEROS
    return [Difference(k, have.get(k, zero), expected.get(k, zero))
            for k in sorted(set(expected) | set(have), key=str) if have.get(k, zero) != expected.get(k, zero)]


def _compare_sql(using: str, person_ids: Collection[int] | None, *, by_person: bool = True,
                 person_range: Range | None = None) -> list[Difference]:
    """PostgreSQL: the same comparison as one statement (one snapshot): the scan's grouped
    querysets compiled to SQL, summed to fen per key, FULL OUTER JOINed with the stored rows;
    only the keys that differ come back. At 1,000,000 bills about twice one aggregate over the
    bills per person (line totals: about one), against four times that reading both sides into Python."""
    bills, apps = _scan_querysets(using, person_ids, by_person=by_person, person_range=person_range)
    person, applicant = ("person_id", "applicant_id") if by_person else ("0", "0")
    bills_sql, bills_params = bills.query.get_compiler(using).as_sql()
    apps_sql, apps_params = apps.query.get_compiler(using).as_sql()
    keys: tuple[str, ...] = ("district_id", "year", "month", "category", "visit_class", "visit_type")
    if by_person:
        keys += ("person_id",)
    group = ", ".join(keys)
    on = " AND ".join(f"e.{k} = s.{k}" for k in keys)
    picked = ", ".join(f"COALESCE(e.{k}, s.{k})" for k in keys)
    stored_filter, stored_params = "", []
    if person_ids is not None:
        stored_filter, stored_params = " AND person_id = ANY(%s)", [sorted(int(p) for p in person_ids)]
    for op, bound in zip((">=", "<="), person_range or (None, None), strict=True):
        if bound is not None:
            stored_filter += f" AND person_id {op} %s"
            stored_params.append(int(bound))
    figures = ("fen", "n", *PART_COLUMNS)
    summed = ", ".join(f"SUM({c})::bigint AS {c}" for c in figures)
    bill_parts = "".join(f", ROUND({c} * 100)::bigint AS {c}" for c in PART_COLUMNS)
    app_parts = "".join(", 0::bigint" for _ in PART_COLUMNS)
    stored_parts = "".join(f", {c}::bigint AS {c}" for c in PART_COLUMNS)
    all_zero = " AND ".join(f"{c} = 0" for c in VALUE_COLUMNS)
    sides = ", ".join(f"COALESCE({side}.{c}, 0)" for side in "se" for c in figures)
    differ = " OR ".join(f"COALESCE(s.{c}, 0) <> COALESCE(e.{c}, 0)" for c in figures)
    sql = f"""
        WITH b AS ({bills_sql}), a AS ({apps_sql}),
        e AS (
            SELECT {group}, {summed}
            FROM (
                SELECT district_id, r_year::int AS year, r_month::int AS month,
                       COALESCE(r_category, '') AS category, COALESCE(r_visit_class, '') AS visit_class,
                       visit_type, {person} AS person_id, ROUND(amount * 100)::bigint AS fen, n{bill_parts}
                FROM b
                UNION ALL
                SELECT district_id, r_year::int, r_month::int, %s, %s, '', {applicant},
                       ROUND(amount * 100)::bigint, n{app_parts}
                FROM a
            ) u
            GROUP BY {group}
            HAVING {" OR ".join(f"SUM({c}) <> 0" for c in figures)}
        ),
        s AS (
            SELECT {group}, {summed}
            FROM (SELECT district_id, year::int AS year, month::int AS month, category, visit_class, visit_type,
                         person_id, amount_fen::bigint AS fen, bills::bigint AS n{stored_parts}
                  FROM {TABLE} WHERE NOT ({all_zero}){stored_filter}) t
            GROUP BY {group}
        )
        SELECT {picked}, {sides}
        FROM e FULL OUTER JOIN s ON {on}
        WHERE {differ}
    """
    params = [*bills_params, *apps_params, RELIEF_CATEGORY, RELIEF_VISIT_CLASS, *stored_params]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    k, w = len(keys), len(figures)
    found = [Difference(tuple(r[:k]) + (() if by_person else (None,)),  # type: ignore[arg-type]
                        tuple(int(v) for v in r[k:k + w]), tuple(int(v) for v in r[k + w:k + 2 * w])) for r in rows]
    return sorted(found, key=lambda d: str(d.key))


def rebuild(using: str = "default") -> int:
    """Rewrite the whole table from the scan (the repair; also the migration's backfill). On
    PostgreSQL the bills and applications are locked against writes meanwhile."""
    from .models import FundMonth

    with transaction.atomic(using=using):
        if connections[using].vendor == "postgresql":
            with connections[using].cursor() as cursor:
                cursor.execute("LOCK TABLE claims_bill, applications_application IN SHARE MODE")
        expected = scan(using)
        FundMonth.objects.using(using).all().delete()
        FundMonth.objects.using(using).bulk_create(
            [FundMonth(**dict(zip(KEY_COLUMNS, k, strict=True)), **dict(zip(VALUE_COLUMNS, v, strict=True)))
             for k, v in expected.items()],
            batch_size=5000)
        with connections[using].cursor() as cursor:  # the second and third levels from the rebuilt first
            for sql in district_backfill_statements() + people_backfill_statements():
                cursor.execute(sql)
    return len(expected)


def prune(using: str = "default", person_ids: Collection[int] | None = None,
          person_range: Range | None = None) -> int:
    """Delete rows that net to nothing (bills that left the granted set); harmless at any time;
    only these people's rows with ``person_ids`` or ``person_range`` (a chunk's)."""
    from .models import FundMonth

    qs = FundMonth.objects.using(using).filter(**dict.fromkeys(VALUE_COLUMNS, 0))
    if person_ids is not None and len(person_ids) <= MAX_PEOPLE_FILTER:
        qs = qs.filter(person_id__in=person_ids)
    if person_range is not None:
        if person_range[0] is not None:
            qs = qs.filter(person_id__gte=person_range[0])
        if person_range[1] is not None:
            qs = qs.filter(person_id__lte=person_range[1])
    deleted, _ = qs.delete()
    if person_ids is None and person_range is None:  # the whole table: fold the district level too
        compact(using)
    return deleted


def check(*, repair: bool = False, using: str = "default", person_ids: Collection[int] | None = None,
          totals_first: bool = False, person_range: Range | None = None) -> list[Difference]:
    """Compare (and with ``repair`` rebuild); every difference is logged as an error; the rows
    that net to nothing are pruned (only the compared people's, with ``person_ids`` or
    ``person_range``). The second level is compared with the first when the whole table is
    checked (neither given)."""
    differences: list[Difference] = list(compare(using, person_ids, totals_first=totals_first,
                                                 person_range=person_range))
    if person_ids is None and person_range is None:
        differences += compare_districts(using)
        differences += compare_people(using)  # type: ignore[arg-type]
    for d in differences:
        logger.error("fund pre-aggregate differs from the bills: %s", d)
    if differences and repair:
        rows = rebuild(using)
        logger.warning("fund pre-aggregate rebuilt from the bills: %s rows (%s differences)", rows, len(differences))
    pruned = prune(using, person_ids, person_range)
    if not differences:
        logger.info("fund pre-aggregate agrees with the bills (%s empty rows pruned)", pruned)
    return differences


# --------------------------------------------------------------------------------------------
# Third level: distinct people (救助人数), issue 20
# --------------------------------------------------------------------------------------------
#
# Distinct people are not additive over months or lines, so the fund report used to count them
# per request over the person level (COUNT(DISTINCT person_id) over every person-month of the
# year in scope). Instead, per *grain* (a grouping of the person level) and person, the first
# month of the year in which the person has bills > 0 in that group is kept ("marks"), and per
# grain, group and month the number of people whose first month it is ("people", append-only
# deltas like the district level). 累计人数 to month M = Σ people for months ≤ M; for the
# "_month" grains the group includes the month, so the mark is that month or nothing and
# 本月人数 = people of month M.
#
# A mark is recomputed from the person level (absolute, never incremented) and the delta is the
# difference to the stored mark, so the two statement triggers PostgreSQL fires for one
# INSERT … ON CONFLICT DO UPDATE (insert and update, in either order) give the right total, and a
# write can be replayed harmlessly. Concurrent writers of the same person serialise on the mark
# rows (PostgreSQL: inserted if missing, then locked FOR UPDATE in key order, then the person
# level is read in a statement that starts after the lock: READ COMMITTED sees the other's commit).
#
# The grains: ``line_first`` (district line: 累计救助人数 per row), ``district_first`` /
# ``district_month`` (a district's 合计), ``region_first`` / ``region_month`` (a region's 合计:
# the districts' region at the time of the write — a district moved to another region needs
# ``install()``; ``reports_aggregate_check`` finds it), ``all_first`` / ``all_month`` (everyone's
# 合计). A person can have bills in two districts in one year (the handling office is the bill's,
# not the person's), so a region's or everyone's people are NOT the districts' sum: hence the
# region and all grains.

PEOPLE_TABLE = "reports_fundpeople"
MARK_TABLE = "reports_fundpersonmark"
LINE_COLUMNS = ("category", "visit_class", "visit_type")
# grain → (unit: 'line' | 'district' | 'region' | 'all', by month)
GRAINS: dict[str, tuple[str, bool]] = {
    "line_first": ("line", False),
    "district_first": ("district", False), "district_month": ("district", True),
    "region_first": ("region", False), "region_month": ("region", True),
    "all_first": ("all", False), "all_month": ("all", True),
}
PEOPLE_KEYS = ("grain", "unit_id", "year", "month", *LINE_COLUMNS)
MARK_KEYS = ("grain", "unit_id", "year", "slot", *LINE_COLUMNS, "person_id")


def _region_of(district: str) -> str:
    return f"(SELECT region_id FROM organizations_district WHERE id = {district})"


def _mark_values(grain: str, r: str) -> list[str]:
    """The mark key (``MARK_KEYS``) of person-level row ``r`` in ``grain``."""
    unit, by_month = GRAINS[grain]
    unit_id = {"line": f"{r}.district_id", "district": f"{r}.district_id",
               "region": _region_of(f"{r}.district_id"), "all": "0"}[unit]
    line = [f"{r}.{c}" for c in LINE_COLUMNS] if unit == "line" else ["''"] * len(LINE_COLUMNS)
    return [f"'{grain}'", unit_id, f"{r}.year", f"{r}.month" if by_month else "0", *line, f"{r}.person_id"]


def _mark_match(grain: str, m: str, f: str) -> str:
    """Person-level rows ``f`` that belong to mark ``m``'s group (granted: bills > 0)."""
    unit, by_month = GRAINS[grain]
    out = [f"{f}.year = {m}.year", f"{f}.person_id = {m}.person_id", f"{f}.bills > 0"]
    if unit in ("line", "district"):
        out.append(f"{f}.district_id = {m}.unit_id")
    if unit == "region":
        out.append(f"{f}.district_id IN (SELECT id FROM organizations_district WHERE region_id = {m}.unit_id)")
    if unit == "line":
        out += [f"{f}.{c} = {m}.{c}" for c in LINE_COLUMNS]
    if by_month:
        out.append(f"{f}.month = {m}.slot")
    return " AND ".join(out)


def _first_month(grain: str, m: str) -> str:
    return f"(SELECT COALESCE(MIN(f.month), 0) FROM {TABLE} AS f WHERE {_mark_match(grain, m, 'f')})"


def _pg_people_function() -> str:
    keys = ", ".join(KEY_COLUMNS)
    mark_keys = ", ".join(MARK_KEYS)
    same_key = " AND ".join(f"x.{k} = y.{k}" for k in KEY_COLUMNS)
    # the person-level rows whose "granted" (bills > 0) changed: present on one side only
    changed = {
        "INSERT": f"SELECT {keys} FROM new_rows WHERE bills > 0",
        "DELETE": f"SELECT {keys} FROM old_rows WHERE bills > 0",
        "UPDATE": (f"SELECT {keys} FROM new_rows AS x WHERE x.bills > 0 AND NOT EXISTS "
                   f"(SELECT 1 FROM old_rows AS y WHERE {same_key} AND y.bills > 0) UNION "
                   f"SELECT {keys} FROM old_rows AS x WHERE x.bills > 0 AND NOT EXISTS "
                   f"(SELECT 1 FROM new_rows AS y WHERE {same_key} AND y.bills > 0)"),
    }

    def body(source: str) -> str:
        marks = " UNION ".join(
            f"SELECT {', '.join(f'{v} AS {k}' for k, v in zip(MARK_KEYS, _mark_values(g, 'c'), strict=True))} "
            f"FROM ({source}) AS c" for g in GRAINS)
        on = " AND ".join(f"m.{k} = k.{k}" for k in MARK_KEYS)
        now = "CASE m.grain " + " ".join(f"WHEN '{g}' THEN {_first_month(g, 'm')}" for g in GRAINS) + " END"
        people_cols = ", ".join(PEOPLE_KEYS)
        picked = ", ".join(c if c != "month" else "{mo}" for c in PEOPLE_KEYS)
        keys_of = f"(SELECT DISTINCT * FROM ({marks}) AS u)"
        return f"""
        INSERT INTO {MARK_TABLE} ({mark_keys}, month) SELECT *, 0 FROM {keys_of} AS k
            ORDER BY {mark_keys} ON CONFLICT DO NOTHING;
        PERFORM 1 FROM {MARK_TABLE} AS m JOIN {keys_of} AS k ON {on}
            ORDER BY {", ".join(f"m.{k}" for k in MARK_KEYS)} FOR UPDATE OF m;
        WITH now AS (SELECT m.id, {", ".join(f"m.{k}" for k in MARK_KEYS)}, m.month AS was, {now} AS now
                     FROM {MARK_TABLE} AS m JOIN {keys_of} AS k ON {on}),
             chg AS (SELECT * FROM now WHERE was <> now),
             upd AS (UPDATE {MARK_TABLE} AS t SET month = chg.now FROM chg WHERE t.id = chg.id RETURNING 1)
        INSERT INTO {PEOPLE_TABLE} ({people_cols}, people)
            SELECT {people_cols}, SUM(d) FROM (
                SELECT {picked.format(mo="was AS month")}, -1 AS d FROM chg WHERE was <> 0
                UNION ALL
                SELECT {picked.format(mo="now AS month")}, 1 FROM chg WHERE now <> 0) AS x
            GROUP BY {people_cols} HAVING SUM(d) <> 0;"""

    return f"""CREATE OR REPLACE FUNCTION reports_fund_people() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN{body(changed["INSERT"])}
    ELSIF TG_OP = 'DELETE' THEN{body(changed["DELETE"])}
    ELSE{body(changed["UPDATE"])}
    END IF;
    RETURN NULL;
END
$fn$"""


def _sqlite_people_steps(r: str) -> str:
    """Row trigger body for one side (``OLD`` or ``NEW``) of a person-level row: every grain's
    mark of that row recomputed, the difference appended to the people level."""
    out = []
    mark_cols, people_cols = ", ".join(MARK_KEYS), ", ".join(PEOPLE_KEYS)
    for g in GRAINS:
        values = _mark_values(g, r)
        key = " AND ".join(f"m.{k} = {v}" for k, v in zip(MARK_KEYS, values, strict=True))
        now = _first_month(g, "m")
        picked = ", ".join(f"m.{c}" if c != "month" else "{mo}" for c in PEOPLE_KEYS)
        out += [
            # an upsert, not INSERT OR IGNORE: the outer statement's conflict policy overrides a trigger's
            f"INSERT INTO {MARK_TABLE} ({mark_cols}, month) SELECT {', '.join(values)}, 0 WHERE 1 "
            f"ON CONFLICT DO NOTHING;",
            f"INSERT INTO {PEOPLE_TABLE} ({people_cols}, people) SELECT {picked.format(mo='m.month')}, -1 "
            f"FROM {MARK_TABLE} AS m WHERE {key} AND m.month <> 0 AND m.month <> {now};",
            f"INSERT INTO {PEOPLE_TABLE} ({people_cols}, people) SELECT {picked.format(mo=now)}, 1 "
            f"FROM {MARK_TABLE} AS m WHERE {key} AND {now} <> 0 AND m.month <> {now};",
            # (SQLite takes no alias on an UPDATE inside a trigger: the table's own name)
            f"UPDATE {MARK_TABLE} SET month = {_first_month(g, MARK_TABLE)} WHERE "
            f"{key.replace('m.', MARK_TABLE + '.')} AND month <> {_first_month(g, MARK_TABLE)};",
        ]
    return " ".join(out)


def people_trigger_statements(vendor: str) -> list[str]:
    """The SQL that installs (or reinstalls) the third level's triggers on ``reports_fundmonth``."""
    if vendor == "postgresql":
        return [_pg_people_function(), *_pg_triggers(TABLE, "reports_fund_people")]
    if vendor == "sqlite":
        prefix = "reports_fund_people"
        return [
            f"DROP TRIGGER IF EXISTS {prefix}_ins",
            f"DROP TRIGGER IF EXISTS {prefix}_upd",
            f"DROP TRIGGER IF EXISTS {prefix}_del",
            f"CREATE TRIGGER {prefix}_ins AFTER INSERT ON {TABLE} WHEN NEW.bills > 0 BEGIN "
            f"{_sqlite_people_steps('NEW')} END",
            f"CREATE TRIGGER {prefix}_upd AFTER UPDATE ON {TABLE} WHEN (OLD.bills > 0) <> (NEW.bills > 0) OR "
            f"{' OR '.join(f'OLD.{k} IS NOT NEW.{k}' for k in KEY_COLUMNS)} BEGIN "
            f"{_sqlite_people_steps('OLD')} {_sqlite_people_steps('NEW')} END",
            f"CREATE TRIGGER {prefix}_del AFTER DELETE ON {TABLE} WHEN OLD.bills > 0 BEGIN "
            f"{_sqlite_people_steps('OLD')} END",
        ]
    raise NotImplementedError(f"fund pre-aggregate triggers for {vendor}")


def _expected_marks_sql() -> str:
    """Every grain's marks (first granted month) computed from the person level (both databases)."""
    parts = []
    for g, (unit, by_month) in GRAINS.items():
        values = _mark_values(g, "f")
        source, group = f"{TABLE} AS f", ["f.year", "f.person_id"]
        if unit == "region":
            source += " JOIN organizations_district AS dd ON dd.id = f.district_id"
            values[1] = "dd.region_id"
            group.append("dd.region_id")
        if unit in ("line", "district"):
            group.append("f.district_id")
        if unit == "line":
            group += [f"f.{c}" for c in LINE_COLUMNS]
        if by_month:
            group.append("f.month")
        cols = ", ".join(f"{v} AS {k}" for k, v in zip(MARK_KEYS, values, strict=True))
        parts.append(f"SELECT {cols}, MIN(f.month) AS month FROM {source} WHERE f.bills > 0 GROUP BY {', '.join(group)}")
    return " UNION ALL ".join(parts)


def people_backfill_statements() -> list[str]:
    """Raw SQL (both databases) that rewrites the third level (marks and people) from the first."""
    mark_cols, people_cols = ", ".join(MARK_KEYS), ", ".join(PEOPLE_KEYS)
    pick = ", ".join(c if c != "month" else "month" for c in PEOPLE_KEYS)
    return [f"DELETE FROM {MARK_TABLE}", f"DELETE FROM {PEOPLE_TABLE}",
            f"INSERT INTO {MARK_TABLE} ({mark_cols}, month) SELECT {mark_cols}, month FROM ({_expected_marks_sql()}) AS e",
            f"INSERT INTO {PEOPLE_TABLE} ({people_cols}, people) SELECT {pick}, COUNT(*) FROM {MARK_TABLE} "
            f"WHERE month <> 0 GROUP BY {people_cols}"]


def install_people_level(schema_editor=None) -> None:
    """(Re)install the third level's triggers and rewrite it from the person level (migration 0007)."""
    conn = schema_editor.connection if schema_editor is not None else connection
    with transaction.atomic(using=conn.alias), conn.cursor() as cursor:
        if PEOPLE_TABLE not in conn.introspection.table_names(cursor):
            return  # an earlier migration's install (0006): 0007 creates the tables and installs
        if conn.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE claims_bill, applications_application, {TABLE} IN SHARE MODE")
        for sql in people_trigger_statements(conn.vendor) + people_backfill_statements():
            cursor.execute(sql)


def uninstall_people_level(schema_editor=None) -> None:
    _drop_level_triggers("reports_fund_people", schema_editor)


@dataclass
class PeopleDifference:
    """A figure of the third level (people per grain, group and month; or a person's mark) that
    differs from what the person level says."""

    what: str  # "people" or "mark"
    key: tuple
    stored: int
    expected: int

    def __str__(self) -> str:
        return (f"people level: {self.what} {dict(zip(PEOPLE_KEYS if self.what == 'people' else MARK_KEYS, self.key, strict=False))}: "
                f"stored {self.stored}, person level says {self.expected}")


def compare_people(using: str = "default") -> list[PeopleDifference]:
    """Every people figure (Σ delta rows) and every mark that differs from the person level's;
    two statements, both databases."""
    people_cols, mark_cols = ", ".join(PEOPLE_KEYS), ", ".join(MARK_KEYS)
    people_sql = f"""
        SELECT {people_cols}, SUM(s), SUM(e) FROM (
            SELECT {people_cols}, people AS s, 0 AS e FROM {PEOPLE_TABLE}
            UNION ALL
            SELECT {people_cols}, 0, COUNT(*) FROM ({_expected_marks_sql()}) AS x GROUP BY {people_cols}
        ) AS u GROUP BY {people_cols} HAVING SUM(s) <> SUM(e)"""
    mark_sql = f"""
        SELECT {mark_cols}, SUM(s), SUM(e) FROM (
            SELECT {mark_cols}, month AS s, 0 AS e FROM {MARK_TABLE}
            UNION ALL
            SELECT {mark_cols}, 0, month FROM ({_expected_marks_sql()}) AS x
        ) AS u GROUP BY {mark_cols} HAVING SUM(s) <> SUM(e)"""
    found = []
    with connections[using].cursor() as cursor:
        for what, sql, n in (("people", people_sql, len(PEOPLE_KEYS)), ("mark", mark_sql, len(MARK_KEYS))):
            cursor.execute(sql)
            found += [PeopleDifference(what, tuple(r[:n]), int(r[n]), int(r[n + 1])) for r in cursor.fetchall()]
    return sorted(found, key=lambda d: (d.what, str(d.key)))


def people_counts(*, grain: str, year: int, unit_ids: Any, months: tuple[int, int],
                  by_line: bool = False, using: str = "default") -> dict[tuple, int]:
    """Σ people of ``grain`` for ``year`` and months lo..hi (both included), per unit (and line
    with ``by_line``); ``unit_ids`` None: every unit. A few rows per group and month."""
    from django.db.models import Sum

    from .models import FundPeople

    qs = FundPeople.objects.using(using).filter(grain=grain, year=year, month__gte=months[0], month__lte=months[1])
    if unit_ids is not None:
        qs = qs.filter(unit_id__in=unit_ids)
    fields = ("unit_id", *LINE_COLUMNS) if by_line else ("unit_id",)
    return {tuple(g[f] for f in fields): g["n"] for g in qs.values(*fields).annotate(n=Sum("people")).order_by()}


def people_totals(*, unit: str, year: int, unit_id: int, last_month: int, using: str = "default") -> tuple[int, int]:
    """(people with a granted bill in months 1..last_month, people with one in last_month) of one
    unit ('district', 'region' or 'all' with unit id 0), counted once each: one query."""
    from django.db.models import Q, Sum

    from .models import FundPeople

    got = FundPeople.objects.using(using).filter(
        Q(grain=f"{unit}_first", month__lte=last_month) | Q(grain=f"{unit}_month", month=last_month),
        year=year, unit_id=unit_id).aggregate(
        ytd=Sum("people", filter=Q(grain=f"{unit}_first")), month=Sum("people", filter=Q(grain=f"{unit}_month")))
    return got["ytd"] or 0, got["month"] or 0
