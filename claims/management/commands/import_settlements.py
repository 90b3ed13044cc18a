"""``manage.py import_settlements FILE [--dry-run]``: one-stop settlement records (CSV/XLSX).

Same code path as the web import (claims.imports). Prints
``created N, unchanged N, rejected N, differences N``, then one ``row N: field: message`` line
per rejected row (N = the line in the file, header = line 1) and one ``difference row N: ...``
line per bill whose engine figure differs from the assistance paid at the hospital (maf_pay),
then, if rows name people not yet registered (kept: registered as non-beneficiaries, assistance
0), ``not yet registered N rows (M people ...)`` and one ``note row N: field: message`` each.
Exit status 1 if any row was rejected; then NOTHING is applied unless ``--apply-good-rows``
(the command's form of the web page's "仅导入正确的行" confirmation); with ``--dry-run`` nothing
is applied. The header may be ours, the platform's setlinfo field names or Chinese; CSV in
UTF-8 (± BOM) or GB18030, or XLSX.
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
        parser.add_argument("--apply-good-rows", action="store_true",
                            help="If some rows are rejected, still apply the good ones (otherwise nothing is applied)")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CommandError(f"no such file: {path}") from None
        t0 = time.monotonic()
        try:
            report = import_settlements(data=data, file_name=path.name, dry_run=options["dry_run"],
                                        apply_good_rows=options["apply_good_rows"])
        except SettlementFileError as exc:
            raise CommandError(str(exc)) from None
        elapsed = time.monotonic() - t0
        self.stdout.write(report.counts_line())
        for error in report.errors:
            self.stdout.write(error.as_text())
        for diff in report.differences:
            self.stdout.write(diff.as_text())
        if report.unregistered:
            # kept, not rejected (POLICY.md §9): the people are registered as non-beneficiaries
            self.stdout.write(f"not yet registered {report.unregistered} rows "
                              f"({report.persons_registered} people registered as non-beneficiaries)")
            for note in report.notes:
                self.stdout.write("note " + note.as_text())
        self.stderr.write(f"{report.total} rows in {elapsed:.2f}s ({report.total / max(elapsed, 1e-6):.0f} rows/s)"
                          + (" (dry run: nothing applied)" if options["dry_run"] else "")
                          + ("" if report.applied else " (rows rejected: nothing applied; --apply-good-rows to apply the others)"))
        if report.rejected:
            sys.exit(1)
