"""``manage.py reports_aggregate_check [--repair]``: compare the fund pre-aggregate
(``reports.FundMonth``, kept current by triggers) with a scan of the bills and applications
through ``claims.money``, to the fen. Every difference is printed and logged as an error; with
``--repair`` the table is rebuilt from the bills (logged). Exit status 1 when differences were
found (also after a repair), so a cron job or the nightly finalizer notices. Rows that net to
nothing are pruned. The nightly finalizer (``monitoring.services.run_complete``) runs the check."""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Compare the fund pre-aggregate with the bills (claims.money); --repair rebuilds it."

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="rebuild the pre-aggregate from the bills (logged)")

    def handle(self, *args, repair=False, **options):
        from reports import aggregate

        differences = aggregate.check(repair=repair)
        for d in differences:
            self.stdout.write(str(d))
        if not differences:
            self.stdout.write(self.style.SUCCESS("fund pre-aggregate agrees with the bills to the fen"))
            return
        self.stdout.write(self.style.ERROR(
            f"{len(differences)} difference(s)" + ("; rebuilt from the bills" if repair else "; run with --repair to rebuild")))
        sys.exit(1)
