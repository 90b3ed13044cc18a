"""``manage.py import_roster FILE --agency CODE [--dry-run] [--revoke-missing DATE]``.

Same code path as the web import (beneficiaries.imports). Prints
``created N, unchanged N, revoked N, rejected N`` then one ``row N: field: message`` line per
rejected row (N = the line in the file, header = line 1); exit status 1 if any row was rejected.
"""
from __future__ import annotations

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from beneficiaries.imports import RosterFileError, import_file
from organizations.models import Agency


class Command(BaseCommand):
    help = "Import an agency's certification roster (名单导入) from CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--agency", required=True, help="Agency code, e.g. 110105-civil_affairs")
        parser.add_argument("--dry-run", action="store_true", help="Validate and count; write nothing")
        parser.add_argument("--revoke-missing", metavar="DATE",
                            help="End (on DATE) this agency's certifications of the file's categories not in the file")

    def handle(self, *args, **options):
        try:
            agency = Agency.objects.get(code=options["agency"])
        except Agency.DoesNotExist:
            raise CommandError(f"unknown agency code: {options['agency']}") from None
        roster_date = None
        if options["revoke_missing"]:
            try:
                roster_date = date.fromisoformat(options["revoke_missing"])
            except ValueError:
                raise CommandError(f"--revoke-missing: not a date (YYYY-MM-DD): {options['revoke_missing']}") from None
        try:
            plan, _batch = import_file(path=options["file"], agency=agency, dry_run=options["dry_run"],
                                       roster_date=roster_date)
        except FileNotFoundError:
            raise CommandError(f"no such file: {options['file']}") from None
        except RosterFileError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(plan.counts_line())
        for error in plan.errors:
            self.stdout.write(error.as_text())
        if plan.rejected:
            sys.exit(1)
