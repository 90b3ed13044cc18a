"""Planner statistics kept current after bulk writes (issue 20).

PostgreSQL plans a query from the statistics ANALYZE gathered; autovacuum refreshes them only
after a threshold and may be off on a server. A nightly run rewrites the figures of hundreds of
thousands of bills at once: with the old statistics a caseworker's bill list filtered by amount
took 6.3 s (and over 60 s city-wide) until the next ANALYZE, then 10 ms. So every run or import
that changed a large share of a table's rows analyses that table itself, at the end, in the same
worker: a few seconds at 1,000,000 bills, once a night.

``refresh_statistics({Bill: changed_rows, ...})`` is the only entry point. It does nothing on
SQLite (its planner keeps no such statistics) and never fails the caller: statistics are an
optimisation, and a failed ANALYZE is logged, not raised.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import connection, models

logger = logging.getLogger(__name__)

#: Analyse a table when at least this share of its rows changed (autovacuum's own default
#: ``autovacuum_analyze_scale_factor`` is 0.1; a run that rewrites figures should not wait for it).
SHARE = 0.05
#: ... or at least this many rows, whatever the table's size.
MIN_ROWS = 10_000


def estimated_rows(table: str) -> float:
    """The planner's row estimate of ``table`` (``pg_class.reltuples``; -1 when never analysed)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s AND relkind = 'r'", [table])
        row = cursor.fetchone()
    return float(row[0]) if row else -1.0


def refresh_statistics(changed: Mapping[type[models.Model], int], *, share: float = SHARE,
                       min_rows: int = MIN_ROWS) -> list[str]:
    """ANALYZE each model's table whose ``changed`` rows are a large share of it; the tables analysed."""
    if connection.vendor != "postgresql":
        return []
    analysed: list[str] = []
    for model, rows in changed.items():
        if rows <= 0:
            continue
        table = model._meta.db_table
        try:
            estimate = estimated_rows(table)
            if estimate < 0 or rows >= min_rows or rows >= share * estimate:
                with connection.cursor() as cursor:
                    cursor.execute(f'ANALYZE "{table}"')  # table name from the model, not from input
                analysed.append(table)
        except Exception:  # an optimisation must never fail the run that called it
            logger.exception("ANALYZE %s failed", table)
    if analysed:
        logger.info("statistics refreshed: %s", ", ".join(analysed))
    return analysed
