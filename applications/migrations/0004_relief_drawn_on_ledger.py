"""Approved relief drawn on an annual bucket (Ningbo 三(二)1) becomes a claims ``LedgerDraw``.

Before this, such relief was counted by the applications app alone; now approval records it on
the person-year ledger (claims.services.ledger_draw_record). This brings the applications
approved earlier onto their ledgers the same way: one draw each, added to the bucket's ``used``
where the cap allows it (otherwise the next recalculation rebuilds the ledger with the draw).
"""
from decimal import Decimal

from django.db import migrations


def forwards(apps, schema_editor):
    Application = apps.get_model("applications", "Application")
    PersonYearLedger = apps.get_model("claims", "PersonYearLedger")
    LedgerBucket = apps.get_model("claims", "LedgerBucket")
    LedgerDraw = apps.get_model("claims", "LedgerDraw")
    for application in Application.objects.filter(status="approved", relief__gt=0).order_by("pk"):
        bucket = ((application.computation or {}).get("engine") or {}).get("explanation", {}).get("bucket")
        if not bucket or bucket.get("cap") is None:
            continue
        if LedgerDraw.objects.filter(source="application", source_ref=application.pk).exists():
            continue
        cap = Decimal(bucket["cap"])
        ledger, _ = PersonYearLedger.objects.get_or_create(person_id=application.applicant_id, year=application.year)
        row, _ = LedgerBucket.objects.get_or_create(ledger=ledger, bucket=bucket["name"],
                                                    defaults={"cap": cap, "clause": bucket.get("clause") or ""})
        if row.cap is None or row.used + application.relief <= row.cap:
            row.used += application.relief
            row.save(update_fields=["used"])
        # else: bills settled after the approval already used the room; the next recalculation
        # rebuilds this ledger from the draw and the bills (later bills get what is left, paid ones
        # an overpayment to review), which is what the cap requires.
        LedgerDraw.objects.create(ledger=ledger, bucket=bucket["name"], cap=cap, amount=application.relief,
                                  clause=bucket.get("clause") or "", source="application", source_ref=application.pk)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0003_paper_extensions"),
        ("claims", "0005_ledger_draw"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
