"""The fund pre-aggregate carries the bills' cost parts (issue 20: the three-tier report by
category reads them instead of the bills): five fen columns on both levels, the triggers
reinstalled with them and both levels refilled from the bills in the same transaction
(``reports.aggregate.install``: the bills and applications locked against writes meanwhile).

Backwards: the triggers are removed (as 0003's reverse does) before the columns go; migrate
forward again to reinstall and refill."""

from django.db import migrations, models


def install(apps, schema_editor):
    from reports.aggregate import install as install_aggregate

    install_aggregate(schema_editor)


def uninstall(apps, schema_editor):
    from reports.aggregate import uninstall as uninstall_triggers

    uninstall_triggers(schema_editor)


PARTS = [("total_fen", "医疗总费用（分）"), ("scope_fen", "政策范围内费用（分）"), ("basic_fen", "基本医保支付（分）"),
         ("critical_fen", "大病保险支付（分）"), ("other_fen", "其他支付（分）")]


class Migration(migrations.Migration):

    dependencies = [
        ('reports', '0005_fund_people_indexes'),
    ]

    operations = [
        *(migrations.AddField(model_name=model, name=name, field=models.BigIntegerField(default=0, verbose_name=label))
          for model in ("fundmonth", "funddistrictmonth") for name, label in PARTS),
        migrations.RunPython(install, uninstall),
    ]
