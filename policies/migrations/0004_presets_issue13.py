"""Sync the presets after issue 13 (POLICY.md §9): caps count only capped tiers, Ningbo
childbirth/rehabilitation as hospital stays and orphans in category 1, Dongzhi a template.

The same idempotent ``preset_sync`` as 0003 and ``manage.py load_presets``: an unused v1 is
refreshed in place, a used one gets a new version, an administrator's revision is kept.
"""
from django.db import migrations


def sync_presets(apps, schema_editor):
    from policies.services import preset_sync

    preset_sync(policy_model=apps.get_model("policies", "Policy"), region_model=apps.get_model("organizations", "Region"))


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0003_presets"),
    ]

    operations = [migrations.RunPython(sync_presets, migrations.RunPython.noop)]
