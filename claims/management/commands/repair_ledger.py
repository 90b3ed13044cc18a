"""``manage.py repair_ledger --person ID --year YYYY --reason "…"``: the explicit, logged repair
of a damaged person-year ledger (``claims.services.ledger_repair``). Without ``--force`` a ledger
that adds up to its bills is left alone; ``--dry-run`` only reports what is wrong."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Repair (rebuild from its bills, logged) a damaged person-year ledger."

    def add_arguments(self, parser):
        parser.add_argument("--person", type=int, required=True, help="person id")
        parser.add_argument("--year", type=int, required=True)
        parser.add_argument("--reason", required=True, help="why (recorded with the repair)")
        parser.add_argument("--dry-run", action="store_true", help="only report what is wrong")
        parser.add_argument("--force", action="store_true", help="rebuild even if nothing is wrong")

    def handle(self, *args, person, year, reason, dry_run=False, force=False, **options):
        from claims import services

        found = services.ledger_damage(person_id=person, years=[year])
        for violation in found:
            self.stdout.write(f"{violation}")
        if dry_run:
            self.stdout.write(f"{len(found)} problem(s); nothing written (--dry-run)")
            return
        if not found and not force:
            self.stdout.write("the ledger adds up to its bills: left alone (use --force to rebuild anyway)")
            return
        try:
            repair = services.ledger_repair(person_id=person, year=year, by=None, reason=reason)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"repaired ledger {repair.ledger_id} (repair record {repair.pk})"))
