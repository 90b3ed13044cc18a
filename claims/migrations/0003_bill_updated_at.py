"""Bill.updated_at: when what the engine reads last changed (the nightly incremental run reads it).

Existing bills take their creation time, so the first incremental run after this migration does
not treat every bill as changed.
"""
import django.utils.timezone
from django.db import migrations, models


def backfill(apps, schema_editor):
    Bill = apps.get_model("claims", "Bill")
    Bill.objects.update(updated_at=models.F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("claims", "0002_claimtransition_ledgerbucket_paymentadjustment_and_more")]

    operations = [
        migrations.AddField(
            model_name="bill",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now, verbose_name="更新时间"),
            preserve_default=False,
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="bill",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, db_index=True, verbose_name="更新时间"),
        ),
    ]
