"""Delete access-log rows older than a cut-off; refuses any cut-off within the retention period
(RETENTION_DAYS = 183 days, six months). Example: ``manage.py purge_access_log --before 2026-01-01``."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.models import RETENTION_DAYS, AccessLog, AppendOnlyError


class Command(BaseCommand):
    help = f"Delete access-log rows older than --before (YYYY-MM-DD) or --older-than-days (at least {RETENTION_DAYS})."

    def add_arguments(self, parser):
        parser.add_argument("--before", help="cut-off date (rows before its midnight are deleted)")
        parser.add_argument("--older-than-days", type=int)

    def handle(self, *args, before=None, older_than_days=None, **options):
        if (before is None) == (older_than_days is None):
            raise CommandError("give exactly one of --before or --older-than-days")
        if before is not None:
            try:
                day = datetime.strptime(before, "%Y-%m-%d").date()
            except ValueError:
                raise CommandError("--before must be YYYY-MM-DD") from None
            cutoff = timezone.make_aware(datetime.combine(day, time.min))
        else:
            cutoff = timezone.now() - timedelta(days=older_than_days)
        try:
            deleted = AccessLog.objects.purge_before(cutoff)
        except AppendOnlyError as exc:
            raise CommandError(f"refused: {exc}") from None
        self.stdout.write(f"deleted {deleted} access-log rows before {cutoff:%Y-%m-%d %H:%M}")
