"""``manage.py outbox_sweep``: send queued work that is still pending (the beat does it every minute)."""
from django.core.management.base import BaseCommand

from operations.outbox import sweep


class Command(BaseCommand):
    help = "Send pending outbox tasks to the broker and re-send stuck ones (also run every minute by beat)."

    def handle(self, *args, **options):
        result = sweep()
        self.stdout.write(f"requeued {result['requeued']}, pending {result['pending']}, sent {result['sent']}")
