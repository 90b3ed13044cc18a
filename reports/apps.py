from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("决定书与报表")

    def ready(self) -> None:
        from organizations import dashboard

        from .queues import letter_queues

        dashboard.register(letter_queues)
        _flush_pre_aggregate_last()


def _flush_pre_aggregate_last() -> None:
    """SQLite has no TRUNCATE: ``manage.py flush`` (and every transactional test's teardown)
    deletes table by table in no fixed order, and deleting the bills fires the pre-aggregate's
    row triggers (``reports.aggregate``). Emptying ``reports_fundmonth`` and then the district level
    its own triggers append to, and the people level's marks and counts, last leaves them empty, as PostgreSQL's TRUNCATE (which fires no row
    triggers) does."""
    from django.conf import settings

    if not any(db["ENGINE"].endswith("sqlite3") for db in settings.DATABASES.values()):
        return
    from django.db.backends.sqlite3.base import DatabaseOperations

    from .aggregate import DISTRICT_TABLE, MARK_TABLE, PEOPLE_TABLE, TABLE

    if getattr(DatabaseOperations.sql_flush, "_fund_last", False):
        return
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        sql = original(self, style, tables, **kwargs)
        # the person level, then the district level its triggers append to
        last = [s for s in sql if s.startswith("DELETE") and TABLE in s]
        last += [s for s in sql if s.startswith("DELETE") and DISTRICT_TABLE in s]
        last += [s for s in sql if s.startswith("DELETE") and (MARK_TABLE in s or PEOPLE_TABLE in s)]
        return [s for s in sql if s not in last] + last

    sql_flush._fund_last = True  # type: ignore[attr-defined]
    DatabaseOperations.sql_flush = sql_flush  # type: ignore[method-assign]
