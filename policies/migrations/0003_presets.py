"""Install the shipped policy presets (beijing-2023, wuxi-2023, ningbo-2019, national-2021,
dongzhi-2022) and the regions they need.

The presets are read at run time from ``policies.engine.presets.PRESETS`` through the same
idempotent ``preset_sync`` that ``manage.py load_presets`` uses, so this migration keeps working
as presets evolve (later changes are synced with ``load_presets``, which versions them).
"""
from django.db import migrations


def install_presets(apps, schema_editor):
    from policies.services import preset_sync

    preset_sync(policy_model=apps.get_model("policies", "Policy"), region_model=apps.get_model("organizations", "Region"))


class Migration(migrations.Migration):
    dependencies = [
        ("organizations", "0001_initial"),
        ("policies", "0002_policy_updated_at"),
    ]

    operations = [migrations.RunPython(install_presets, migrations.RunPython.noop)]
