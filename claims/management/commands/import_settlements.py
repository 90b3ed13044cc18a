"""``manage.py import_settlements FILE [--dry-run]``: one-stop settlement records (CSV/XLSX).

Same code path as the web import (claims.imports). Prints
``created N, unchanged N, rejected N, differences N``, then one ``row N: field: message`` line
per rejected row (N = the line in the file, header = line 1) and one ``difference row N: ...``
line per bill whose engine figure differs from the assistance paid at the hospital. Exit status 1
if any row was rejected; with ``--dry-run`` nothing is applied.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from claims.imports import SettlementFileError, import_settlements


class Command(BaseCommand):
    help = "Import one-stop settlement records (一站式结算数据) from CSV or XLSX."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Validate and count; write nothing")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"no such file: {path}") from None
        t0 = time.monotonic()
        try:
            report = import_settlements(data=data, file_name=path.name, dry_run=options["dry_run"])
        except SettlementFileError as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.monotonic() - t0
        self.stdout.write(report.counts_line())
        for error in report.errors:
            self.stdout.write(error.as_text())
        for diff in report.differences:
            self.stdout.write(diff.as_text())
        self.stderr.write(f"{report.total} rows in {elapsed:.2f}s ({report.total / max(elapsed, 1e-6):.0f} rows/s)"
                          + (" (dry run: nothing applied)" if options["dry_run"] else ""))
        if report.rejected:
            sys.exit(1)
