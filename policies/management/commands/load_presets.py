"""``manage.py load_presets``: (re)install the shipped policy presets. Idempotent."""
from django.core.management.base import BaseCommand
from django.db import transaction

from policies.selectors import forget_spec
from policies.services import preset_sync


class Command(BaseCommand):
    help = "Install or refresh the shipped policy presets (beijing-2023, wuxi-2023, ningbo-2019, national-2021, dongzhi-2022)."

    def handle(self, *args, **options):
        with transaction.atomic():
            report = preset_sync()
        forget_spec()
        for code, outcome in report:
            self.stdout.write(f"{code}: {outcome}")
