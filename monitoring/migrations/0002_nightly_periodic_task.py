"""Create the django-celery-beat entry for the nightly recalculation at settings.NIGHTLY_HOUR.

The schedule lives in the database (CELERY_BEAT_SCHEDULER = DatabaseScheduler), so an administrator
can move the hour in the admin without a deploy. Run ONE beat instance only (see docs/monitoring.md).
"""
from django.conf import settings
from django.db import migrations

TASK_NAME = "monitoring.nightly_recalculation"
ENTRY_NAME = "夜间重算与预警 (nightly recalculation)"


def create_entry(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    hour = int(getattr(settings, "NIGHTLY_HOUR", 2))
    schedule, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour=str(hour), day_of_week="*", day_of_month="*", month_of_year="*",
        timezone=settings.CELERY_TIMEZONE if hasattr(settings, "CELERY_TIMEZONE") else settings.TIME_ZONE,
    )
    PeriodicTask.objects.update_or_create(
        name=ENTRY_NAME,
        defaults={"task": TASK_NAME, "crontab": schedule, "args": "[]", "kwargs": "{}", "enabled": True},
    )


def remove_entry(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=ENTRY_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_entry, remove_entry)]
